//! Properties of the structured creditor references: any text is read without
//! a panic and yields only references whose check digits hold; a reference
//! made by ISO 11649's rule is found whole and in printed blocks of four.

use proptest::prelude::*;
use reckon_core::creditor_ref::{
    mod10_recursive, mod97, ogm_vcs_references, ogm_vcs_valid, qr_reference_valid, qr_references, rf_references,
    rf_valid,
};
use std::path::Path;

/// ISO 11649: the check digits are 98 minus the MOD 97-10 of the reference
/// followed by `RF00`.
fn make_rf(body: &str) -> String {
    let check = 98 - mod97(&format!("{body}RF00")).unwrap_or(0);
    format!("RF{check:02}{body}")
}

proptest! {
    #[test]
    fn any_text_yields_only_valid_references(text in "\\PC{0,80}") {
        for rf in rf_references(&text) {
            prop_assert!(rf_valid(&rf), "{rf}");
        }
        for d in ogm_vcs_references(&text) {
            prop_assert!(ogm_vcs_valid(&d), "{d}");
        }
        for d in qr_references(&text) {
            prop_assert!(qr_reference_valid(&d), "{d}");
        }
    }

    #[test]
    fn a_made_reference_is_found_whole_and_in_blocks(body in "[A-Z0-9]{1,21}", before in "[a-z ]{0,10}") {
        let rf = make_rf(&body);
        prop_assert!(rf_valid(&rf));
        prop_assert_eq!(rf_references(&format!("{before} {rf} x")), vec![rf.clone()]);
        // A word after the blocks is no block (a block of four could be: a
        // printed reference is read as far as its check digits allow).
        let blocks: Vec<String> = rf.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        prop_assert_eq!(rf_references(&format!("{before} {} thanks", blocks.join(" "))), vec![rf.clone()]);
        prop_assert_eq!(rf_references(&format!("{before} {}, thanks", blocks.join(" "))), vec![rf]);
    }

    #[test]
    fn a_made_structured_communication_is_found(base in "[0-9]{10}") {
        let r = mod97(&base).unwrap_or(0);
        let d = format!("{base}{:02}", if r == 0 { 97 } else { r });
        let printed = format!("+++{}/{}/{}+++", &d[..3], &d[3..7], &d[7..]);
        prop_assert_eq!(ogm_vcs_references(&printed), vec![d]);
    }

    #[test]
    fn a_made_qr_reference_is_found_printed_and_whole(body in "[0-9]{26}") {
        let d = format!("{body}{}", mod10_recursive(&body).unwrap_or(0));
        let printed = format!("{} {} {} {} {} {}", &d[..2], &d[2..7], &d[7..12], &d[12..17], &d[17..22], &d[22..]);
        prop_assert_eq!(qr_references(&format!("Ref. {printed}.")), vec![d.clone()]);
        prop_assert_eq!(qr_references(&d), vec![d]);
    }
}

/// The library's verdict: `tests/fixtures/creditor_ref/cases.csv`, 2,400
/// references (half made by each standard's rule, half with the check digits
/// drawn at random) judged by python-stdnum 2.2 (`iso11649`, `be.ogm_vcs`,
/// `ch.esr`; the script beside it writes the file). reckon agrees on every one.
#[test]
fn agrees_with_python_stdnum() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/creditor_ref/cases.csv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut seen = [0usize; 2];
    for (n, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 3, "line {}: {line}", n + 1);
        let ours = match f[0] {
            "rf" => rf_valid(f[1]),
            "ogm_vcs" => ogm_vcs_valid(f[1]),
            "qr" => qr_reference_valid(f[1]),
            other => panic!("line {}: kind {other}", n + 1),
        };
        assert_eq!(ours, f[2] == "true", "line {}: {} {}", n + 1, f[0], f[1]);
        seen[usize::from(ours)] += 1;
    }
    assert!(seen[0] > 1000 && seen[1] > 1000, "{seen:?}");
}
