//! Number parsing and formatting with Redis's exact rules.
//!
//! Redis accepts an integer argument only in canonical form (no `+`, no leading
//! zeros, no spaces) and formats floats with `%.17g` semantics; clients can see
//! both, so the rules here are part of the wire contract.

/// Parses a canonical signed 64-bit decimal integer (Redis's `string2ll`).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = if s[0] == b'-' {
        (true, &s[1..])
    } else {
        (false, s)
    };
    if digits.is_empty() || digits[0] == b'0' {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses a float the way Redis's `string2ld`/`strtold` accepts it for
/// INCRBYFLOAT and friends: no spaces, no empty string, `inf`/`-inf` allowed
/// (callers reject them where Redis does), `nan` rejected.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 {
        return None;
    }
    if s[0].is_ascii_whitespace() || s[s.len() - 1].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let lower = text.to_ascii_lowercase();
    let v = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        t if t.starts_with("0x") => parse_hex_float(&lower)?,
        _ => text.parse::<f64>().ok()?,
    };
    if v.is_nan() {
        return None;
    }
    Some(v)
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let hex = rest.strip_prefix("0x")?;
    if hex.contains(['p', '.']) || hex.is_empty() {
        return None;
    }
    let v = u64::from_str_radix(hex, 16).ok()? as f64;
    Some(if neg { -v } else { v })
}

/// Formats a double the way Redis prints a `long double` that holds the
/// decimal number the double stands for: `%.17Lf`, trailing zeros removed,
/// never an exponent (`1e20` prints as `100000000000000000000`, `1e-20` as
/// `0`).
///
/// The double is read as its shortest round-trip decimal, because that is
/// what a client typed and what Redis's `strtold` would have seen. Commands
/// that compute like INCRBYFLOAT/HINCRBYFLOAT must not add `f64`s and call
/// this: Redis adds in 80-bit precision, which [`crate::util::xfloat`]
/// emulates exactly (parse, add, `to_human`).
pub fn format_f64_human(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    let shortest = format!("{v:e}");
    match super::xfloat::LongDouble::parse(shortest.as_bytes()) {
        Some(ld) => ld.to_human(),
        None => "0".into(), // subnormal doubles are normal long doubles: unreachable
    }
}

/// `%.17g` formatting (used for exponent cases and for RESP2 double replies).
pub fn format_g17(v: f64) -> String {
    format_g(v, 17)
}

/// C's `%.<prec>g`.
pub fn format_g(v: f64, prec: usize) -> String {
    match integral_digits(v, prec) {
        Some(i) => itoa::Buffer::new().format(i).to_string(),
        None => format_g_general(v, prec),
    }
}

/// `v` as an integer when `%.<prec>g` prints it as one: a whole number
/// other than zero (whose sign `%g` keeps) of at most 16 digits, fewer than
/// `prec`. Scores and counters are mostly whole, and this skips two float
/// formattings.
pub fn integral_digits(v: f64, prec: usize) -> Option<i64> {
    (v != 0.0 && v.fract() == 0.0 && v.abs() < 1e16 && prec >= 17).then_some(v as i64)
}

fn format_g_general(v: f64, prec: usize) -> String {
    if v.is_nan() {
        // glibc prints the sign of a NaN (x86's 0/0 has it set).
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let prec = prec.max(1);
    let e_repr = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e_repr.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_fraction(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_fraction(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_fraction(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_print_as_the_general_path_prints_them() {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for i in 0..20_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (i % 18) as u32;
            let n = (x % 10u64.pow(digits).max(1)) as i64;
            for v in [
                n as f64,
                -(n as f64),
                (n as f64) * 2.0,
                1e16 - 1.0,
                1e16,
                1e17,
            ] {
                assert_eq!(format_g(v, 17), format_g_general(v, 17), "{v}");
            }
        }
    }

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"01", b"+1", b" 1", b"1 ", b"-0", b"-", b"1a"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn float_format() {
        assert_eq!(format_f64_human(10.5), "10.5");
        assert_eq!(format_f64_human(3.0), "3");
        assert_eq!(format_f64_human(5.0e3), "5000");
        assert_eq!(format_f64_human(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(format_f64_human(1e20), "100000000000000000000");
        assert_eq!(format_f64_human(5.0e-10), "0.0000000005");
        assert_eq!(format_f64_human(-1e-20), "0");
        assert_eq!(format_f64_human(-2.5), "-2.5");
        assert_eq!(format_g17(1.5), "1.5");
        assert_eq!(format_g17(1e20), "1e+20");
        assert_eq!(format_g(0.0001, 17), "0.0001");
    }
}
