//! splitmix64: a small, fixed, documented pseudo-random generator.
//!
//! Used wherever a random-looking sequence must be reproducible from a seed
//! on any machine and with any version of our dependencies — the expert
//! draw (re-drawn from its recorded seed) and the synthetic demo data. Not
//! for secrets: tokens and keys come from the OS generator.

/// The generator state. The same seed always yields the same sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Seeds from text (FNV-1a over the bytes), e.g. a base code.
    pub fn from_text(seed: &str) -> SplitMix64 {
        SplitMix64(seed.bytes().fold(0x9E37_79B9_7F4A_7C15, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
        }))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (modulo; the bias is irrelevant for our uses).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_reference_splitmix64() {
        // Reference values of splitmix64 seeded with 0 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn range_stays_inside() {
        let mut r = SplitMix64::from_text("R08");
        assert!((0..1000).all(|_| (3..=7).contains(&r.range(3, 7))));
    }
}
