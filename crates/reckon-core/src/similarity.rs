//! Jaro–Winkler similarity of names, equal to `strsim::jaro_winkler` to the bit.
//!
//! strsim compares `char`s through generic iterators and allocates its match
//! flags on every call. Matching payer names calls it up to three times for each
//! of up to 32 masters per distinct payer (586,815 distinct payers in `reckon
//! bench --only e2e --scale 1000000`; `perf`: 30 % of cash matching on
//! 2026-11-30). Names are ASCII after normalisation, so this port compares bytes and
//! keeps the flags on the stack; any other text goes to strsim. Two names of at
//! most 64 bytes each (nearly every name) are compared with the match flags as
//! bits of a word: for each byte of one name, the first free position of the
//! same byte in the other name's window is the lowest bit of a mask (the
//! bit-parallel form of the same greedy matching; Hyyrö's bit-vector technique,
//! as RapidFuzz computes Jaro). The result is the same `f64`, operation for
//! operation (tests compare the bits with strsim on random text).

/// Jaro–Winkler similarity of `a` and `b` (as `strsim::jaro_winkler`).
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    if !(a.is_ascii() && b.is_ascii()) {
        return strsim::jaro_winkler(a, b);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let sim = jaro(a, b);
    if sim > 0.7 {
        let prefix = a.iter().take(4).zip(b).take_while(|(x, y)| x == y).count();
        sim + 0.1 * prefix as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// [`matches_loop`] for two ASCII byte strings of at most 64 bytes, the match flags as
/// bits: position `j` of `b` is bit `j`. Each byte of `a` in turn takes the
/// lowest free position of the same byte within its window, as [`matches_loop`]'s inner
/// loop does; the transpositions pair the flagged positions of both in order.
/// Returns (matches, transpositions).
fn matches_bits(a: &[u8], b: &[u8], range: usize) -> (usize, usize) {
    let b_len = b.len();
    // Positions of each byte in `b` (ASCII: below 128).
    let mut at = [0u64; 128];
    for (j, &y) in b.iter().enumerate() {
        at[usize::from(y & 0x7f)] |= 1 << j;
    }
    // Bits lo..hi set (hi ≤ 64).
    let below = |n: usize| if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
    let (mut a_flags, mut b_flags, mut matches) = (0u64, 0u64, 0usize);
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = b_len.min(i + range + 1);
        if hi <= lo {
            continue;
        }
        let free = at[usize::from(x & 0x7f)] & !b_flags & below(hi) & !below(lo);
        if free != 0 {
            b_flags |= free & free.wrapping_neg();
            a_flags |= 1 << i;
            matches += 1;
        }
    }
    let mut transpositions = 0usize;
    let (mut af, mut bf) = (a_flags, b_flags);
    while af != 0 && bf != 0 {
        if a[af.trailing_zeros() as usize] != b[bf.trailing_zeros() as usize] {
            transpositions += 1;
        }
        af &= af - 1;
        bf &= bf - 1;
    }
    (matches, transpositions / 2)
}

/// Jaro similarity of two byte strings (strsim's `generic_jaro` on bytes).
fn jaro(a: &[u8], b: &[u8]) -> f64 {
    let (a_len, b_len) = (a.len(), b.len());
    if a_len == 0 && b_len == 0 {
        return 1.0;
    } else if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let range = (a_len.max(b_len) / 2).saturating_sub(1);
    let (matches, transpositions) =
        if a_len <= 64 && b_len <= 64 { matches_bits(a, b, range) } else { matches_loop(a, b, range) };
    if matches == 0 {
        return 0.0;
    }
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

/// The matches and transpositions of `a` and `b` within `range`: each byte of
/// `a` in turn takes the first free equal byte of `b` in its window.
fn matches_loop(a: &[u8], b: &[u8], range: usize) -> (usize, usize) {
    let (a_len, b_len) = (a.len(), b.len());
    let mut stack = [false; 256];
    let mut heap = Vec::new();
    let flags: &mut [bool] = if a_len + b_len <= stack.len() {
        &mut stack[..a_len + b_len]
    } else {
        heap.resize(a_len + b_len, false);
        &mut heap
    };
    let (a_flags, b_flags) = flags.split_at_mut(a_len);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(range);
        let hi = b_len.min(i + range + 1);
        for j in lo..hi {
            if x == b[j] && !b_flags[j] {
                a_flags[i] = true;
                b_flags[j] = true;
                matches += 1;
                break;
            }
        }
    }
    let mut transpositions = 0usize;
    let mut bs = b.iter().zip(b_flags.iter()).filter(|(_, f)| **f).map(|(y, _)| y);
    for (x, _) in a.iter().zip(a_flags.iter()).filter(|(_, f)| **f) {
        if bs.next().is_some_and(|y| y != x) {
            transpositions += 1;
        }
    }
    (matches, transpositions / 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        for (a, b) in [
            ("", ""),
            ("", "A"),
            ("MARTHA", "MARHTA"),
            ("DWAYNE", "DUANE"),
            ("DIXON", "DICKSONX"),
            ("QUANTUM LOGISTIK", "QUAN ELEK COMP"),
            ("cheeseburger", "cheese fries"),
            ("MÜLLER GMBH", "MUELLER GMBH"),
        ] {
            assert_eq!(jaro_winkler(a, b).to_bits(), strsim::jaro_winkler(a, b).to_bits(), "{a} / {b}");
        }
        let long = "A".repeat(300);
        assert_eq!(jaro_winkler(&long, "AAB").to_bits(), strsim::jaro_winkler(&long, "AAB").to_bits());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        #[test]
        fn equals_strsim_on_names(a in "[A-E &]{0,40}", b in "[A-E &]{0,40}") {
            prop_assert_eq!(jaro_winkler(&a, &b).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
        }

        /// Names on both sides of the 64 bytes the bit-parallel form takes.
        #[test]
        fn equals_strsim_around_64_bytes(a in "[A-D ]{50,80}", b in "[A-D ]{0,80}") {
            prop_assert_eq!(jaro_winkler(&a, &b).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
            prop_assert_eq!(jaro_winkler(&b, &a).to_bits(), strsim::jaro_winkler(&b, &a).to_bits());
        }

        /// The bit-parallel form is the byte loop's, on the same bytes.
        #[test]
        fn bits_equal_the_byte_loop(a in "[A-H0-9 ]{0,64}", b in "[A-H0-9 ]{0,64}", range in 0usize..40) {
            prop_assert_eq!(matches_bits(a.as_bytes(), b.as_bytes(), range), matches_loop(a.as_bytes(), b.as_bytes(), range));
        }

        #[test]
        fn equals_strsim_on_any_text(a in ".{0,200}", b in "[a-zÄÖÜ0-9 ]{0,150}") {
            prop_assert_eq!(jaro_winkler(&a, &b).to_bits(), strsim::jaro_winkler(&a, &b).to_bits());
        }

        /// Text is exactly as like itself as can be (callers skip the work on equal text).
        #[test]
        fn equal_text_is_exactly_one(a in ".{0,200}") {
            prop_assert_eq!(jaro_winkler(&a, &a).to_bits(), 1.0f64.to_bits());
            prop_assert_eq!(strsim::jaro_winkler(&a, &a).to_bits(), 1.0f64.to_bits());
        }
    }
}
