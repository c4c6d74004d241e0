//! `.lic` container tests: round trips, every truncation, bit flips, limits.
use lic::format::{Container, FormatError, Header, Limits, StreamKind, FORMAT_VERSION, MAGIC};
use proptest::prelude::*;

fn header() -> Header {
    Header {
        kind: StreamKind::Image,
        model_id: "hyperprior-mse-q3".into(),
        weights_hash: *b"0123456789abcdef",
        width: 768,
        height: 512,
        gray: false,
        bit_depth: 8,
        quality: 0.0483,
        tile_width: 256,
        tile_height: 256,
        params: vec![1, 2, 3, 4, 5],
    }
}

fn sample() -> Container {
    Container {
        header: header(),
        substreams: vec![vec![7; 12], vec![], (0..40).collect(), vec![0xff; 4]],
    }
}

prop_compose! {
    fn any_header()(
        id in "[ -~]{0,64}",
        weights_hash in any::<[u8; 16]>(),
        width in 1u32..=65536,
        height in 1u32..=4096,
        gray in any::<bool>(),
        quality_bits in any::<u32>(),
        tile in prop_oneof![Just((0u32, 0u32)), (1u32..10000, 1u32..10000)],
        params in prop::collection::vec(any::<u8>(), 0..300),
    ) -> Header {
        Header {
            kind: StreamKind::Image,
            model_id: id,
            weights_hash,
            width,
            height,
            gray,
            bit_depth: 8,
            quality: f32::from_bits(quality_bits),
            tile_width: tile.0,
            tile_height: tile.1,
            params,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_containers_round_trip(
        header in any_header(),
        substreams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 0..20),
    ) {
        let c = Container { header, substreams };
        let bytes = c.to_bytes().unwrap();
        prop_assert_eq!(bytes.len(), c.file_size());
        let back = Container::parse(&bytes).unwrap();
        // Compare the quality bit-exactly (NaN != NaN).
        prop_assert_eq!(back.header.quality.to_bits(), c.header.quality.to_bits());
        let mut norm = back.clone();
        norm.header.quality = c.header.quality;
        if c.header.quality.is_nan() {
            prop_assert_eq!(norm.to_bytes().unwrap(), bytes);
        } else {
            prop_assert_eq!(norm, c);
        }
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Container::parse(&bytes);
        let mut with_magic = MAGIC.to_vec();
        with_magic.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        with_magic.extend_from_slice(&bytes);
        let _ = Container::parse(&with_magic);
    }
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample().to_bytes().unwrap();
    for len in 0..bytes.len() {
        let err = Container::parse(&bytes[..len]).unwrap_err();
        assert!(
            matches!(err, FormatError::Truncated { .. } | FormatError::BadMagic),
            "prefix {len}: {err}"
        );
    }
    assert!(Container::parse(&bytes).is_ok());
}

#[test]
fn every_bit_flip_is_an_error() {
    // The sample is small enough to flip every bit, payloads included.
    let bytes = sample().to_bytes().unwrap();
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(
            Container::parse(&b).is_err(),
            "flip of bit {bit} undetected"
        );
    }
}

#[test]
fn sampled_bit_flips_in_a_large_file_are_errors() {
    let mut c = sample();
    c.substreams = (0..16).map(|i| vec![i as u8; 5000]).collect();
    let bytes = c.to_bytes().unwrap();
    let mut x = 12345u64;
    for _ in 0..3000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let bit = (x >> 17) as usize % (bytes.len() * 8);
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(
            Container::parse(&b).is_err(),
            "flip of bit {bit} undetected"
        );
    }
}

#[test]
fn errors_name_the_problem() {
    let bytes = sample().to_bytes().unwrap();
    assert_eq!(
        Container::parse(b"PNG\x0d\x0a junk"),
        Err(FormatError::BadMagic)
    );
    assert_eq!(
        FormatError::BadMagic.to_string(),
        "not a .lic file (bad magic)"
    );

    // Versions 1 (float entropy networks), 2 (before lic-overfit), 3 (before lic-dwt) and any
    // other version are refused, with a hint.
    for other in [1u16, 2, 3, 5, 0xffff] {
        let mut v = bytes.clone();
        v[4..6].copy_from_slice(&other.to_le_bytes());
        assert_eq!(
            Container::parse(&v),
            Err(FormatError::UnsupportedVersion { found: other })
        );
    }
    let msg = FormatError::UnsupportedVersion { found: 1 }.to_string();
    assert!(msg.contains("re-encode"), "{msg}");

    let err = Container::parse(&bytes[..12]).unwrap_err();
    assert!(
        err.to_string().contains("truncated at field model id"),
        "{err}"
    );

    let mut payload = bytes.clone();
    *payload.last_mut().unwrap() ^= 0x10;
    let err = Container::parse(&payload).unwrap_err();
    assert!(
        err.to_string().contains("CRC mismatch in substream 3"),
        "{err}"
    );

    let mut hdr = bytes.clone();
    hdr[30] ^= 1;
    let err = Container::parse(&hdr).unwrap_err();
    assert!(err.to_string().contains("CRC mismatch in header"), "{err}");

    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        Container::parse(&trailing),
        Err(FormatError::TrailingBytes(1))
    );
}

#[test]
fn limits_are_enforced_and_can_be_raised() {
    let mut c = sample();
    c.header.width = 70000;
    c.header.height = 2;
    let bytes = c.to_bytes().unwrap();
    assert!(matches!(
        Container::parse(&bytes),
        Err(FormatError::LimitExceeded { field: "width", .. })
    ));
    let wide = Limits {
        max_side: 1 << 20,
        ..Limits::default()
    };
    assert!(Container::parse_with_limits(&bytes, &wide).is_ok());

    c.header.width = 65536;
    c.header.height = 65536;
    assert!(matches!(
        Container::parse(&c.to_bytes().unwrap()),
        Err(FormatError::LimitExceeded {
            field: "pixel count",
            ..
        })
    ));

    let few = Limits {
        max_substreams: 3,
        max_params: 4,
        ..Limits::default()
    };
    let bytes = sample().to_bytes().unwrap();
    let err = Container::parse_with_limits(&bytes, &few).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::LimitExceeded {
                field: "parameter blob length",
                ..
            }
        ),
        "{err}"
    );
    let few = Limits {
        max_params: 100,
        ..few
    };
    let err = Container::parse_with_limits(&bytes, &few).unwrap_err();
    assert!(
        matches!(
            err,
            FormatError::LimitExceeded {
                field: "substream count",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn invalid_headers_are_refused_when_writing() {
    for h in [
        Header {
            model_id: "x".repeat(65),
            ..header()
        },
        Header {
            model_id: "caf\u{e9}".into(),
            ..header()
        },
        Header {
            width: 0,
            ..header()
        },
        Header {
            bit_depth: 16,
            ..header()
        },
        Header {
            tile_width: 0,
            tile_height: 5,
            ..header()
        },
    ] {
        let c = Container {
            header: h,
            substreams: vec![],
        };
        assert!(matches!(c.to_bytes(), Err(FormatError::Invalid { .. })));
    }
}

#[test]
fn display_lists_every_field() {
    let text = sample().to_string();
    for needle in [
        "format version: 4",
        "kind:           image",
        "hyperprior-mse-q3",
        "30313233343536373839616263646566",
        "768x512",
        "RGB, 8 bit",
        "0.0483",
        "256x256 px tiles, 3x2 grid",
        "parameters:     5 bytes",
        "substreams:     4",
        "40 bytes",
        "bpp",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}
