//! Runtime instruction-set dispatch for the float training kernels.
//!
//! Kernels are written once as `#[inline(always)]` bodies over `[f32; 16]` blocks, generic over
//! a [`Simd`] implementation. [`multiversion!`] wraps a body in an AVX-512, an
//! AVX2+FMA and a baseline variant and picks one per call with `is_x86_feature_detected!`, so
//! the shipped binary needs no `-C target-cpu`. Only training uses these kernels; the decoder is
//! integer and its result does not depend on the variant.
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// Instruction set a kernel runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
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
    }
}

static OVERRIDE: AtomicU8 = AtomicU8::new(0);

/// The best instruction set of this CPU, or the one named by `LIC_OVERFIT_ISA`
/// (`avx512`, `avx2`, `base`) or by [`set_isa`], never above what the CPU has.
pub fn isa() -> Isa {
    static ISA: OnceLock<(Isa, Isa)> = OnceLock::new();
    let &(best, chosen) = ISA.get_or_init(|| {
        let best = detect();
        let wanted = match std::env::var("LIC_OVERFIT_ISA").as_deref() {
            Ok("base") => Isa::Base,
            Ok("avx2") => Isa::Avx2,
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
    [Isa::Base, Isa::Avx2, Isa::Avx512]
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

/// Vector operations on one [`Lane`], implemented per instruction set with intrinsics so the
/// compiler cannot vectorize across lanes of different blocks instead (gathers/scatters).
///
/// # Safety
/// The methods may only run on a CPU with the implementation's features: kernels call them
/// only from the variant that [`multiversion!`] picked for [`isa`].
pub trait Simd {
    /// Register type holding one lane.
    type V: Copy;
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
    /// `max(a, 0)`.
    ///
    /// # Safety
    /// Only on a CPU with the implementation's features (see the trait).
    unsafe fn relu(a: Self::V) -> Self::V;
}

/// Portable implementation.
pub struct Base;

impl Simd for Base {
    type V = Lane;
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
    unsafe fn relu(a: Lane) -> Lane {
        a.map(|v| v.max(0.0))
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Lane, Simd};
    use std::arch::x86_64::*;

    /// AVX2 + FMA: two 8-lane registers.
    pub struct Avx2;
    /// AVX-512F/VL enabled (see its `Simd` impl).
    pub struct Avx512;

    impl Simd for Avx2 {
        type V = (__m256, __m256);
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
        unsafe fn relu(a: Self::V) -> Self::V {
            let z = _mm256_setzero_ps();
            (_mm256_max_ps(a.0, z), _mm256_max_ps(a.1, z))
        }
    }

    // The AVX-512 variant: one 512-bit register per 16-lane block (Zen 5 and recent Intel cores
    // execute these at full width, twice the FMA throughput of the AVX2 pair).
    impl Simd for Avx512 {
        type V = __m512;
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
        unsafe fn relu(a: Self::V) -> Self::V {
            _mm512_max_ps(a, _mm512_setzero_ps())
        }
    }
}
#[cfg(target_arch = "x86_64")]
pub use x86::{Avx2, Avx512};

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
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v512($($arg: $ty),*) $(-> $ret)? { inner::<$crate::overfit::simd::Avx512>($($arg),*) }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn v256($($arg: $ty),*) $(-> $ret)? { inner::<$crate::overfit::simd::Avx2>($($arg),*) }
                match $crate::overfit::simd::isa() {
                    // SAFETY: `isa()` returns a variant only if the CPU has its features.
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
