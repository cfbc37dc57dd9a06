//! A look ahead over pipelined requests, for prefetching: the second
//! argument (the first key, for the commands pipelines are made of: GET,
//! SET, INCR, HGET...) of each complete multibulk request waiting in the
//! input buffer. It validates nothing and decides nothing: requests are
//! parsed and checked by [`super::Parser`] when they run. It stops at the
//! first thing it does not expect (an inline request, a partial one).

/// Requests with more arguments end the look ahead, which therefore costs
/// a bounded amount of work per call.
const MAX_ARGS: usize = 64;

/// Calls `f` with the second argument of each of the next complete
/// multibulk requests in `buf` (up to `max` requests; those with fewer than
/// two arguments are skipped over). Returns the number of requests looked
/// at and where the last of them ends.
pub fn second_args<'b>(buf: &'b [u8], max: usize, mut f: impl FnMut(&'b [u8])) -> (usize, usize) {
    let mut pos = 0;
    let mut seen = 0;
    while seen < max {
        let Some((count, mut next)) = number_line(buf, pos, b'*') else {
            break;
        };
        if count > MAX_ARGS {
            break; // a big request: not worth a look ahead, and not bounded
        }
        let mut second = None;
        for i in 0..count {
            let Some((len, start)) = number_line(buf, next, b'$') else {
                return (seen, pos);
            };
            let end = match start.checked_add(len).and_then(|e| e.checked_add(2)) {
                Some(end) if end <= buf.len() => end,
                _ => return (seen, pos),
            };
            if i == 1 {
                second = Some(&buf[start..start + len]);
            }
            next = end;
        }
        if let Some(k) = second {
            f(k);
        }
        pos = next;
        seen += 1;
    }
    (seen, pos)
}

/// A line `<prefix><decimal>\r\n` at `buf[pos..]`, read by the parser's
/// own length-line reader (with no limits: this is a hint): the number and
/// where the line ends. `None` if the line is incomplete, not of that form,
/// or not a positive count or a length.
fn number_line(buf: &[u8], pos: usize, prefix: u8) -> Option<(usize, usize)> {
    if *buf.get(pos)? != prefix {
        return None;
    }
    let limits = super::parse::Limits {
        max_bulk_len: u64::MAX,
        authenticated: true,
    };
    let (n, used) = super::parse::read_len_line(&buf[pos..], prefix, limits).ok()??;
    let n = usize::try_from(n)
        .ok()
        .filter(|&n| prefix == b'$' || n > 0)?;
    Some((n, pos + used))
}

#[cfg(test)]
mod tests {
    use super::second_args;

    fn peek(buf: &[u8], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        second_args(buf, max, |k| out.push(k.to_vec()));
        out
    }

    #[test]
    fn finds_the_keys_of_complete_requests() {
        let buf = b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$2\r\nbb\r\n$1\r\nx\r\n*2\r\n$3\r\nGET\r\n$1";
        assert_eq!(peek(buf, 16), vec![b"a".to_vec(), b"bb".to_vec()]);
        assert_eq!(peek(buf, 1), vec![b"a".to_vec()]);
        // Three complete requests, ending before the partial fourth.
        let partial = buf.len() - b"*2\r\n$3\r\nGET\r\n$1".len();
        assert_eq!(second_args(buf, 16, |_| {}), (3, partial));
    }

    #[test]
    fn stops_at_anything_unexpected() {
        assert!(peek(b"GET a\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 16).is_empty());
        assert!(peek(b"*2\r\n$3\r\nGET\r\n$9\r\na\r\n", 16).is_empty());
        assert!(peek(b"*2\r\n$-1\r\n", 16).is_empty());
        assert!(peek(b"*99999999999999999999999\r\n", 16).is_empty());
        assert!(peek(b"*2\r\n$18446744073709551615\r\nx\r\n", 16).is_empty());
        assert!(peek(b"", 16).is_empty());
        let mut big = b"*65\r\n".to_vec();
        for _ in 0..65 {
            big.extend_from_slice(b"$1\r\nx\r\n");
        }
        assert!(peek(&big, 16).is_empty());
    }
}
