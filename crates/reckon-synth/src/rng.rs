//! A small, fixed PRNG (xoshiro256** seeded by SplitMix64): the generator's
//! output must stay byte-identical across releases of any external crate.

#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng { s: [next(), next(), next(), next()] }
    }

    /// An independent stream for a named part of the scenario.
    pub fn fork(&mut self, salt: u64) -> Rng {
        Rng::new(self.u64() ^ salt.wrapping_mul(0xA24B_AED4_963E_E407))
    }

    pub fn u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    pub fn range(&mut self, lo: i64, hi_inclusive: i64) -> i64 {
        lo + self.below((hi_inclusive - lo + 1) as u64) as i64
    }

    /// True with probability `p` (given in per-mille to keep floats out of decisions).
    pub fn permille(&mut self, p: u64) -> bool {
        self.below(1000) < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }

    /// Index drawn by integer weights.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut r = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        weights.len() - 1
    }

    /// A log-uniform amount in minor units between `lo` and `hi`.
    pub fn amount(&mut self, lo: i64, hi: i64) -> i64 {
        // Geometric interpolation with integers: pick a decade, then uniform within it.
        let mut decades = Vec::new();
        let mut d = lo.max(1);
        while d < hi {
            let top = (d.saturating_mul(10)).min(hi);
            decades.push((d, top));
            d = top;
        }
        let (a, b) = *self.pick(&decades);
        self.range(a, b)
    }
}
