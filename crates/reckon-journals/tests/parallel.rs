//! The book's tests and features run in parallel; the answer must not depend on
//! the thread count, the order lines arrive in, or how dictionaries were filled.

use reckon_journals::{AnomalyConfig, Book, Dict, JournalResult, Line};

/// A book of `journals` journals over several entities, accounts, preparers and
/// days, with some duplicates and odd journals mixed in (deterministic).
fn book(journals: usize) -> Vec<Line> {
    let mut s: u64 = 42;
    let mut rnd = |m: u64| {
        s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (s >> 33) % m
    };
    let mut v = Vec::new();
    let mut prev: Option<(&str, usize, i32, i64, Vec<String>)> = None;
    for j in 0..journals {
        let ent = ["DE01", "US01", "GB01"][rnd(3) as usize];
        let n = 2 + rnd(3) as usize;
        let day = 20_500 + rnd(90) as i32;
        let prep = format!("U{}", rnd(12));
        let amt = 100 + rnd(2_000_000) as i64;
        let created = day + rnd(40) as i32;
        let source = ["manual", "interface", "recurring"][rnd(3) as usize];
        let accounts: Vec<String> = (0..n).map(|_| format!("{}", 1000 + rnd(40) * 100)).collect();
        // Every fiftieth journal repeats the previous one's lines a few days later (a duplicate).
        let (ent, n, day, amount, accounts) = match prev.take() {
            Some((e, n, d, a, acc)) if j % 50 == 49 => (e, n, d + 3, a, acc),
            _ => (ent, n, day, amt, accounts),
        };
        prev = Some((ent, n, day, amount, accounts.clone()));
        for (k, a) in accounts.iter().enumerate() {
            let x = if k == 0 { amount * (n as i64 - 1) } else { -amount };
            v.push(Line {
                journal_id: format!("J{:06}", (j * 7919) % journals),
                line_no: k as i64 + 1,
                entity: ent.into(),
                account: a.clone(),
                posting_date: day,
                document_date: None,
                fiscal_period: reckon_core::date::format_iso_date(day)[..7].into(),
                amount: x,
                currency: "EUR".into(),
                exponent: 2,
                preparer_id: prep.clone(),
                approver_id: if rnd(10) == 0 { prep.clone() } else { String::new() },
                source: source.into(),
                created_day: Some(created),
                created_hour: Some((j % 24) as u8),
            });
        }
    }
    v
}

fn at(threads: usize, lines: &[Line]) -> (Vec<JournalResult>, Vec<u32>, Book) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap_or_else(|e| panic!("{e}"));
    pool.install(|| {
        let tests = AnomalyConfig::default().build().unwrap_or_else(|e| panic!("{e}"));
        let b = Book::from_lines(lines);
        let r = tests.run_book(&b);
        let f = reckon_journals::features(&tests, &b, &r).iter().map(|x| x.to_bits()).collect();
        (r, f, b)
    })
}

#[test]
fn one_and_four_threads_give_the_same_flags_risks_and_features() {
    let lines = book(20_000);
    let (r1, f1, _) = at(1, &lines);
    let (r4, f4, _) = at(4, &lines);
    assert!(r1.iter().any(|j| !j.flags.is_empty()), "the book should raise flags");
    assert!(r1.iter().any(|j| j.flags.iter().any(|f| f.test.as_str() == "duplicate_journal")));
    assert_eq!(r1, r4, "journal results differ between 1 and 4 threads");
    assert!(f1 == f4, "features differ between 1 and 4 threads");
    // (entity, journal id) order.
    assert!(r1.windows(2).all(|w| (&w[0].entity, &w[0].journal_id) < (&w[1].entity, &w[1].journal_id)));
}

#[test]
fn line_order_does_not_change_journal_outcomes() {
    let lines = book(3_000);
    let mut rev = lines.clone();
    rev.reverse();
    let (a, fa, book_a) = at(2, &lines);
    let (b, fb, book_b) = at(2, &rev);
    let n = lines.len();
    // Same journals, flags and risks; line indices point into each input.
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.entity, &x.journal_id, x.risk, x.unbalanced), (&y.entity, &y.journal_id, y.risk, y.unbalanced));
        let tests = |j: &JournalResult| {
            let mut t: Vec<&str> = j.flags.iter().map(|f| f.test.as_str()).collect();
            t.sort_unstable();
            t
        };
        assert_eq!(tests(x), tests(y), "{}", x.journal_id);
        let mut back: Vec<u32> = y.lines(&book_b).iter().map(|i| n as u32 - 1 - i).collect();
        back.sort_unstable();
        assert_eq!(x.lines(&book_a), back);
    }
    // The amount profile is summed in another order, but in exact integers.
    let first = fa.iter().zip(&fb).position(|(x, y)| x != y);
    assert!(first.is_none(), "feature {first:?} changes with the line order");
}

#[test]
fn dictionaries_are_sorted_whatever_the_arrival_order() {
    let d = Dict::intern(["b", "b", "a", "c", "a"].into_iter());
    assert_eq!(d.names(), ["a", "b", "c"]);
    assert_eq!((0..5).map(|i| d.id(i)).collect::<Vec<_>>(), [1, 1, 0, 2, 0]);
    assert_eq!(d.at(3), "c");
}
