//! Glob matching with Redis's `stringmatchlen` semantics, shared by KEYS, SCAN MATCH,
//! PSUBSCRIBE and CONFIG GET.
//!
//! Every pattern element other than `*` consumes exactly one byte, so when the text after
//! a star fails, retrying from an earlier star can never help: backtracking to the most
//! recent star only is exact and bounds the work at O(pattern × string), where a naive
//! recursive matcher is exponential on patterns like `*a*a*a*...b`.
//!
//! Redis quirks kept on purpose: an empty string matches only an empty pattern (even `*`
//! does not match it); an unterminated `[` class runs to the end of the pattern; `\` escapes
//! inside a class compare case-sensitively even with `nocase`; ranges may be reversed
//! (`[z-a]`); a trailing lone `\` matches a backslash.

/// Whether `s` matches `pattern`; `nocase` folds ASCII case.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    if s.is_empty() {
        return pattern.is_empty();
    }
    let (mut p, mut i) = (0, 0);
    // Pattern index just after the last star, and the string index it is tried from.
    let mut star: Option<(usize, usize)> = None;
    loop {
        let ok = if p < pattern.len() && i < s.len() {
            if pattern[p] == b'*' {
                while pattern.get(p + 1) == Some(&b'*') {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                p += 1;
                star = Some((p, i));
                continue;
            }
            match match_one(pattern, p, s[i], nocase) {
                Some(next) => {
                    p = next;
                    i += 1;
                    if i < s.len() {
                        continue;
                    }
                    // String used up: only trailing stars may remain.
                    while pattern.get(p) == Some(&b'*') {
                        p += 1;
                    }
                    p == pattern.len()
                }
                None => false,
            }
        } else {
            // Pattern used up with string left (the empty-string case returned above).
            false
        };
        if ok {
            return true;
        }
        // Let the last star absorb one more byte; it may not absorb the final one, since
        // what follows it needs at least one byte.
        match star {
            Some((sp, si)) if si + 1 < s.len() => {
                star = Some((sp, si + 1));
                p = sp;
                i = si + 1;
            }
            _ => return false,
        }
    }
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    a == b || (nocase && a.eq_ignore_ascii_case(&b))
}

/// Matches the single non-star element at `pattern[p]` against `c`; on success returns the
/// index after the element.
fn match_one(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'[' => {
            p += 1;
            let negate = pattern.get(p) == Some(&b'^');
            if negate {
                p += 1;
            }
            let mut hit = false;
            loop {
                match pattern.get(p) {
                    None => {
                        // Unterminated class: it ends with the pattern.
                        p -= 1;
                        break;
                    }
                    Some(b'\\') if p + 1 < pattern.len() => {
                        p += 1;
                        hit |= pattern[p] == c;
                    }
                    Some(b']') => break,
                    Some(&lo) if p + 2 < pattern.len() && pattern[p + 1] == b'-' => {
                        let hi = pattern[p + 2];
                        let (mut lo, mut hi, mut x) = (lo.min(hi), lo.max(hi), c);
                        if nocase {
                            (lo, hi, x) = (
                                lo.to_ascii_lowercase(),
                                hi.to_ascii_lowercase(),
                                x.to_ascii_lowercase(),
                            );
                        }
                        hit |= lo <= x && x <= hi;
                        p += 2;
                    }
                    Some(&l) => hit |= eq(l, c, nocase),
                }
                p += 1;
            }
            (hit != negate).then_some(p + 1)
        }
        b'\\' if p + 1 < pattern.len() => eq(pattern[p + 1], c, nocase).then_some(p + 2),
        l => eq(l, c, nocase).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    /// A direct transcription of the recursive definition, used as an oracle on small
    /// inputs (exponential, but fine for short strings).
    fn oracle(p: &[u8], s: &[u8], nocase: bool) -> bool {
        fn rec(p: &[u8], s: &[u8], nocase: bool) -> bool {
            if s.is_empty() || p.is_empty() {
                return p.iter().all(|&c| c == b'*') && s.is_empty()
                    || (p.is_empty() && s.is_empty());
            }
            if p[0] == b'*' {
                let rest = &p[1..];
                if rest.iter().all(|&c| c == b'*') {
                    return true;
                }
                return (0..s.len()).any(|k| rec(rest, &s[k..], nocase));
            }
            match super::match_one(p, 0, s[0], nocase) {
                Some(n) => rec(&p[n..], &s[1..], nocase),
                None => false,
            }
        }
        if s.is_empty() {
            return p.is_empty();
        }
        rec(p, s, nocase)
    }

    #[test]
    fn basics() {
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("a*c", "abbbc"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("h*llo", "hllo"));
        assert!(m("h[ae]llo", "hello"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"), "reversed range");
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\-]", "-"));
        assert!(
            !m("[a-]", "-"),
            "a-] is a range and the class is unterminated"
        );
        assert!(m("[a-]", "^"), "^ lies between ] and a");
        assert!(m("abc\\", "abc\\"), "trailing backslash is literal");
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
    }

    #[test]
    fn redis_quirks() {
        assert!(!m("*", ""), "empty string only matches empty pattern");
        assert!(m("", ""));
        assert!(!m("?", ""));
        assert!(m("[abc", "a"), "unterminated class ends at pattern end");
        assert!(!m("[abc", "ab"));
        assert!(!m("a[", "a["), "a lone [ at the end is an empty class");
        assert!(!m("[]", "]"), "[] is an empty class");
        assert!(!m("[]]", "]"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(glob_match(b"h[A-C]llo", b"hbllo", true));
        assert!(
            !glob_match(b"[\\A]", b"a", true),
            "escaped class members compare exactly"
        );
        assert!(
            glob_match(b"\\A", b"a", true),
            "escapes outside classes fold case"
        );
        assert!(!glob_match(b"HELLO", b"hello", false));
    }

    #[test]
    fn no_exponential_blowup() {
        let s = "a".repeat(10_000);
        let p = format!("{}b", "*a".repeat(50));
        let t = std::time::Instant::now();
        assert!(!m(&p, &s));
        assert!(m(&"*a".repeat(50), &s));
        assert!(t.elapsed().as_secs() < 2);
    }

    #[test]
    fn agrees_with_recursive_definition() {
        // Deterministic pseudo-random patterns over a small alphabet with every metachar.
        let pat_alphabet = b"ab*?[]^-\\A";
        let str_alphabet = b"ab-]A\\*";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..200_000 {
            let p: Vec<u8> = (0..next(7))
                .map(|_| pat_alphabet[next(pat_alphabet.len())])
                .collect();
            let s: Vec<u8> = (0..next(6))
                .map(|_| str_alphabet[next(str_alphabet.len())])
                .collect();
            let nocase = next(2) == 1;
            assert_eq!(
                glob_match(&p, &s, nocase),
                oracle(&p, &s, nocase),
                "pattern {:?} string {:?}",
                String::from_utf8_lossy(&p),
                String::from_utf8_lossy(&s)
            );
        }
    }
}
