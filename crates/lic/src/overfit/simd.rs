//! Runtime instruction-set dispatch for the float training kernels.
//!
//! Kernels are written once as `#[inline(always)]` bodies over `[f32; 16]` blocks, generic over
//! a [`Simd`] implementation. `multiversion!` wraps a body in an AVX-512 + AVX512_BF16, an
//! AVX-512, an AVX2+FMA and a baseline variant and picks one per call with
//! `is_x86_feature_detected!`, so the shipped binary needs no `-C target-cpu`. The bf16 variant
//! differs only where a kernel asks for [`Simd::dot2`] (the training forward passes); the
//! decoder's kernels are integer and their results do not depend on the variant.
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Instruction set a kernel runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512F/VL/BW with FMA and the bf16 dot products (AVX512_BF16: Zen 4/5, Sapphire
    /// Rapids): the training forward passes multiply in bf16 (accumulating in f32).
    Avx512Bf16,
    /// AVX-512F/VL with FMA.
    Avx512,
    /// AVX2 with FMA.
    Avx2,
    /// The target's baseline (SSE2 on x86-64).
    Base,
}

fn rank(i: Isa) -> u8 {
    match i {
        Isa::Base => 1,
        Isa::Avx2 => 2,
        Isa::Avx512 => 3,
        Isa::Avx512Bf16 => 4,
    }
}

static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// The best instruction set of this CPU, or the one named by `LIC_OVERFIT_ISA`
/// (`avx512bf16`, `avx512`, `avx2`, `base`) or by [`set_isa`], never above what the CPU has.
pub fn isa() -> Isa {
    static ISA: OnceLock<(Isa, Isa)> = OnceLock::new();
    let &(best, chosen) = ISA.get_or_init(|| {
        let best = detect();
        let wanted = match std::env::var("LIC_OVERFIT_ISA").as_deref() {
            Ok("base") => Isa::Base,
            Ok("avx2") => Isa::Avx2,
            Ok("avx512") => Isa::Avx512,
            _ => best,
        };
        (
            best,
            if rank(wanted) <= rank(best) {
                wanted
            } else {
                best
            },
        )
    });
    match OVERRIDE.load(Ordering::Relaxed) {
        1 => Isa::Base,
        2 if rank(best) >= 2 => Isa::Avx2,
        3 if rank(best) >= 3 => Isa::Avx512,
        4 if rank(best) >= 4 => Isa::Avx512Bf16,
        _ => chosen,
    }
}

/// Forces the kernels' instruction set process-wide (`None`: automatic); one above what the
/// CPU has falls back to the automatic choice. For tests and benchmarks.
pub fn set_isa(isa: Option<Isa>) {
    OVERRIDE.store(isa.map_or(0, rank), Ordering::Relaxed);
}

/// The instruction sets this CPU can run.
pub fn available() -> Vec<Isa> {
    let best = detect();
    [Isa::Base, Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16]
        .into_iter()
        .filter(|&i| rank(i) <= rank(best))
        .collect()
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("fma")
        {
            if is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512bf16") {
                return Isa::Avx512Bf16;
            }
            return Isa::Avx512;
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Base
}

/// Sixteen `f32` lanes.
pub type Lane = [f32; 16];

/// Sixteen pairs of bf16 values, one `u32` each (the first of a pair in the low half): two
/// channels of sixteen pixels, as the bf16 dot product reads them.
pub type Pairs = [u32; 16];

/// `x` rounded to bf16 (to nearest, ties to even), in the low 16 bits.
pub fn to_bf16(x: f32) -> u32 {
    let b = x.to_bits();
    if x.is_nan() {
        return (b >> 16) | 0x40;
    }
    (b + 0x7fff + ((b >> 16) & 1)) >> 16
}

/// The `f32` of a bf16 value (low 16 bits of `h`).
pub fn from_bf16(h: u32) -> f32 {
    f32::from_bits(h << 16)
}

/// `lo` and `hi` rounded to bf16 and paired lane by lane (the emulation of [`Simd::pack`]).
fn pack_emulated(lo: &Lane, hi: &Lane) -> Pairs {
    std::array::from_fn(|k| to_bf16(lo[k]) | (to_bf16(hi[k]) << 16))
}

/// `acc + x.hi · w.hi + x.lo · w.lo` lane by lane (the emulation of [`Simd::dot2`]; bf16
/// products are exact in `f32`).
fn dot2_emulated(acc: &Lane, x: &Pairs, w: &Pairs) -> Lane {
    std::array::from_fn(|k| {
        let hi = from_bf16(x[k] >> 16) * from_bf16(w[k] >> 16);
        let lo = from_bf16(x[k] & 0xffff) * from_bf16(w[k] & 0xffff);
        acc[k] + hi + lo
    })
}

/// Vector operations on one [`Lane`], implemented per instruction set with intrinsics so the
/// compiler cannot vectorize across lanes of different blocks instead (gathers/scatters).
///
/// # Safety
/// The methods may only run on a CPU with the implementation's features: kernels call them
/// only from the variant that `multiversion!` picked for [`isa`].
pub trait Simd {
    /// Register type holding one lane.
    type V: Copy;
    /// Register type holding one [`Pairs`].
    type P: Copy;
    /// Whether [`Simd::dot2`] runs in hardware (otherwise it is emulated, slowly: kernels
    /// take their `f32` paths).
    const BF16: bool = false;
    /// Whether there are registers for 16 accumulators plus operands (32 vector registers).
    const WIDE: bool = false;
    /// Scalar `a * b + c` (fused where the ISA has FMA).
    fn madd(a: f32, b: f32, c: f32) -> f32;
    /// Loads a lane.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn load(p: &Lane) -> Self::V;
    /// Stores a lane.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn store(p: &mut Lane, v: Self::V);
    /// Broadcasts a scalar.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn splat(x: f32) -> Self::V;
    /// `a * b + c`.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `a + b`.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// `a * b`.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `max(a, 0)`.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn relu(a: Self::V) -> Self::V;
    /// Loads pairs.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn pload(p: &Pairs) -> Self::P;
    /// Broadcasts one pair.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn psplat(w: u32) -> Self::P;
    /// Rounds two lanes to bf16 and stores them paired lane by lane (`lo` first).
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn pack(dst: &mut Pairs, lo: Self::V, hi: Self::V);
    /// `acc + x.hi · w.hi + x.lo · w.lo` per lane.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn dot2(acc: Self::V, x: Self::P, w: Self::P) -> Self::V;
}

/// The emulated pair operations of an implementation without AVX512_BF16 (through lanes in
/// memory).
macro_rules! emulated_pairs {
    () => {
        type P = Pairs;
        #[inline(always)]
        unsafe fn pload(p: &Pairs) -> Pairs {
            *p
        }
        #[inline(always)]
        unsafe fn psplat(w: u32) -> Pairs {
            [w; 16]
        }
        #[inline(always)]
        unsafe fn pack(dst: &mut Pairs, lo: Self::V, hi: Self::V) {
            let (mut a, mut b) = ([0.0; 16], [0.0; 16]);
            Self::store(&mut a, lo);
            Self::store(&mut b, hi);
            *dst = pack_emulated(&a, &b);
        }
        #[inline(always)]
        unsafe fn dot2(acc: Self::V, x: Pairs, w: Pairs) -> Self::V {
            let mut a = [0.0; 16];
            Self::store(&mut a, acc);
            Self::load(&dot2_emulated(&a, &x, &w))
        }
    };
}

/// Portable implementation.
pub struct Base;

impl Simd for Base {
    type V = Lane;
    emulated_pairs!();
    #[inline(always)]
    fn madd(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }
    #[inline(always)]
    unsafe fn load(p: &Lane) -> Lane {
        *p
    }
    #[inline(always)]
    unsafe fn store(p: &mut Lane, v: Lane) {
        *p = v;
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Lane {
        [x; 16]
    }
    #[inline(always)]
    unsafe fn fma(a: Lane, b: Lane, c: Lane) -> Lane {
        std::array::from_fn(|k| a[k] * b[k] + c[k])
    }
    #[inline(always)]
    unsafe fn add(a: Lane, b: Lane) -> Lane {
        std::array::from_fn(|k| a[k] + b[k])
    }
    #[inline(always)]
    unsafe fn mul(a: Lane, b: Lane) -> Lane {
        std::array::from_fn(|k| a[k] * b[k])
    }
    #[inline(always)]
    unsafe fn relu(a: Lane) -> Lane {
        a.map(|v| v.max(0.0))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{dot2_emulated, pack_emulated, Lane, Pairs, Simd};
    use std::arch::x86_64::*;

    /// AVX2 + FMA: two 8-lane registers.
    pub struct Avx2;
    /// AVX-512F/VL enabled (see its `Simd` impl).
    pub struct Avx512;

    impl Simd for Avx2 {
        type V = (__m256, __m256);
        emulated_pairs!();
        #[inline(always)]
        fn madd(a: f32, b: f32, c: f32) -> f32 {
            a.mul_add(b, c)
        }
        #[inline(always)]
        unsafe fn load(p: &Lane) -> Self::V {
            (
                _mm256_loadu_ps(p.as_ptr()),
                _mm256_loadu_ps(p.as_ptr().add(8)),
            )
        }
        #[inline(always)]
        unsafe fn store(p: &mut Lane, v: Self::V) {
            _mm256_storeu_ps(p.as_mut_ptr(), v.0);
            _mm256_storeu_ps(p.as_mut_ptr().add(8), v.1);
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self::V {
            (_mm256_set1_ps(x), _mm256_set1_ps(x))
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            (
                _mm256_fmadd_ps(a.0, b.0, c.0),
                _mm256_fmadd_ps(a.1, b.1, c.1),
            )
        }
        #[inline(always)]
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
            (_mm256_add_ps(a.0, b.0), _mm256_add_ps(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            (_mm256_mul_ps(a.0, b.0), _mm256_mul_ps(a.1, b.1))
        }
        #[inline(always)]
        unsafe fn relu(a: Self::V) -> Self::V {
            let z = _mm256_setzero_ps();
            (_mm256_max_ps(a.0, z), _mm256_max_ps(a.1, z))
        }
    }

    // The AVX-512 variant: one 512-bit register per 16-lane block (Zen 5 and recent Intel cores
    // execute these at full width, twice the FMA throughput of the AVX2 pair).
    impl Simd for Avx512 {
        type V = __m512;
        const WIDE: bool = true;
        emulated_pairs!();
        #[inline(always)]
        fn madd(a: f32, b: f32, c: f32) -> f32 {
            a.mul_add(b, c)
        }
        #[inline(always)]
        unsafe fn load(p: &Lane) -> Self::V {
            _mm512_loadu_ps(p.as_ptr())
        }
        #[inline(always)]
        unsafe fn store(p: &mut Lane, v: Self::V) {
            _mm512_storeu_ps(p.as_mut_ptr(), v)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self::V {
            _mm512_set1_ps(x)
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            _mm512_fmadd_ps(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
            _mm512_add_ps(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            _mm512_mul_ps(a, b)
        }
        #[inline(always)]
        unsafe fn relu(a: Self::V) -> Self::V {
            _mm512_max_ps(a, _mm512_setzero_ps())
        }
    }

    /// AVX-512 with AVX512BW and AVX512_BF16 (see its `Simd` impl).
    pub struct Avx512Bf16;

    // AVX-512 with the bf16 dot product: `vdpbf16ps` does 32 multiply-adds per instruction
    // (two per lane), twice an `f32` FMA's.
    impl Simd for Avx512Bf16 {
        type V = __m512;
        type P = __m512i;
        const WIDE: bool = true;
        const BF16: bool = true;
        #[inline(always)]
        fn madd(a: f32, b: f32, c: f32) -> f32 {
            a.mul_add(b, c)
        }
        #[inline(always)]
        unsafe fn load(p: &Lane) -> Self::V {
            Avx512::load(p)
        }
        #[inline(always)]
        unsafe fn store(p: &mut Lane, v: Self::V) {
            Avx512::store(p, v)
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self::V {
            Avx512::splat(x)
        }
        #[inline(always)]
        unsafe fn fma(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
            Avx512::fma(a, b, c)
        }
        #[inline(always)]
        unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
            Avx512::add(a, b)
        }
        #[inline(always)]
        unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
            Avx512::mul(a, b)
        }
        #[inline(always)]
        unsafe fn relu(a: Self::V) -> Self::V {
            Avx512::relu(a)
        }
        #[inline(always)]
        unsafe fn pload(p: &Pairs) -> Self::P {
            _mm512_loadu_si512(p.as_ptr().cast())
        }
        #[inline(always)]
        unsafe fn psplat(w: u32) -> Self::P {
            _mm512_set1_epi32(w as i32)
        }
        #[inline(always)]
        unsafe fn pack(dst: &mut Pairs, lo: Self::V, hi: Self::V) {
            // bf16 elements 0..16 from `lo`, 16..32 from `hi`; then interleaved so that
            // element 2k is lo[k] and 2k + 1 is hi[k].
            let v = std::mem::transmute::<__m512bh, __m512i>(_mm512_cvtne2ps_pbh(hi, lo));
            let idx = _mm512_set_epi16(
                31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                20, 4, 19, 3, 18, 2, 17, 1, 16, 0,
            );
            _mm512_storeu_si512(dst.as_mut_ptr().cast(), _mm512_permutexvar_epi16(idx, v));
        }
        #[inline(always)]
        unsafe fn dot2(acc: Self::V, x: Self::P, w: Self::P) -> Self::V {
            let (x, w) = (
                std::mem::transmute::<__m512i, __m512bh>(x),
                std::mem::transmute::<__m512i, __m512bh>(w),
            );
            _mm512_dpbf16_ps(acc, x, w)
        }
    }
}
#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512, Avx512Bf16};

/// Defines `fn name(args) -> ret` that runs `body` (which may use the const `F`) in the variant
/// for [`isa`].
macro_rules! multiversion {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$m])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments, clippy::extra_unused_type_parameters)]
            fn inner<S: $crate::overfit::simd::Simd>($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512bf16,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v512bf($($arg: $ty),*) $(-> $ret)? { inner::<$crate::overfit::simd::Avx512Bf16>($($arg),*) }
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v512($($arg: $ty),*) $(-> $ret)? { inner::<$crate::overfit::simd::Avx512>($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v256($($arg: $ty),*) $(-> $ret)? { inner::<$crate::overfit::simd::Avx2>($($arg),*) }
                match $crate::overfit::simd::isa() {
                    // SAFETY: `isa()` returns a variant only if the CPU has its features.
                    $crate::overfit::simd::Isa::Avx512Bf16 => unsafe { v512bf($($arg),*) },
                    // SAFETY: as above.
                    $crate::overfit::simd::Isa::Avx512 => unsafe { v512($($arg),*) },
                    // SAFETY: as above.
                    $crate::overfit::simd::Isa::Avx2 => unsafe { v256($($arg),*) },
                    $crate::overfit::simd::Isa::Base => inner::<$crate::overfit::simd::Base>($($arg),*),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                inner::<$crate::overfit::simd::Base>($($arg),*)
            }
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_rounds_to_nearest_even() {
        assert_eq!(to_bf16(1.0), 0x3f80);
        assert_eq!(from_bf16(to_bf16(-2.5)), -2.5);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to the even 1.
        assert_eq!(from_bf16(to_bf16(1.0 + 1.0 / 256.0)), 1.0);
        // Just above halfway rounds up.
        assert_eq!(
            from_bf16(to_bf16(1.0 + 1.0 / 256.0 + 1.0 / 65536.0)),
            1.0 + 1.0 / 128.0
        );
        assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
        for x in [0.1f32, -3.7, 123.456, 1e-3] {
            assert!((from_bf16(to_bf16(x)) - x).abs() <= x.abs() / 256.0);
        }
    }

    /// The hardware pair operations (where the CPU has them) agree with the emulation.
    #[test]
    fn pair_operations_match_the_emulation() {
        let lo: Lane = std::array::from_fn(|k| k as f32 * 0.37 - 2.0);
        let hi: Lane = std::array::from_fn(|k| 1.5 - k as f32 * 0.11);
        let acc: Lane = std::array::from_fn(|k| k as f32 * 0.01);
        let x = pack_emulated(&lo, &hi);
        let w = 0x3fc0_bf00; // (hi 1.5, lo −0.5)
        let want = dot2_emulated(&acc, &x, &[w; 16]);
        for (k, v) in want.iter().enumerate() {
            let exact = acc[k] + 1.5 * from_bf16(x[k] >> 16) - 0.5 * from_bf16(x[k] & 0xffff);
            assert!((v - exact).abs() < 1e-6, "{k}");
        }
        #[cfg(target_arch = "x86_64")]
        if detect() == Isa::Avx512Bf16 {
            #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512bf16")]
            unsafe fn hw(lo: &Lane, hi: &Lane, acc: &Lane, w: u32) -> (Pairs, Lane) {
                let mut p = [0u32; 16];
                Avx512Bf16::pack(&mut p, Avx512Bf16::load(lo), Avx512Bf16::load(hi));
                let r = Avx512Bf16::dot2(
                    Avx512Bf16::load(acc),
                    Avx512Bf16::pload(&p),
                    Avx512Bf16::psplat(w),
                );
                let mut out = [0.0; 16];
                Avx512Bf16::store(&mut out, r);
                (p, out)
            }
            // SAFETY: the CPU has the features (checked above).
            let (p, r) = unsafe { hw(&lo, &hi, &acc, w) };
            assert_eq!(p, x);
            for (a, b) in r.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }
}
