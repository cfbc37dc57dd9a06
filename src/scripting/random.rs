//! `math.random` and `math.randomseed` as Redis 7 replaces them: one
//! 48-bit linear congruential generator (POSIX `lrand48`'s: multiplier
//! 0x5DEECE66D, increment 11, state starting at 0x1234ABCD330E) for the
//! whole server, never reset between scripts, so the sequence does not
//! depend on the C library. `math.randomseed(n)` sets the state to
//! `n << 16 | 0x330E`, as `srand48` does.
//!
//! The state is one atomic word shared by every Lua state (each worker
//! thread has its own VM), advanced with a compare-and-swap, so scripts on
//! any thread draw from the one sequence, as Redis's single VM does.

use mlua::ffi::{self, lua_State};
use mlua::Lua;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU64, Ordering};

const INITIAL: u64 = 0x1234_ABCD_330E;
const MULTIPLIER: u64 = 0x5_DEEC_E66D;
const INCREMENT: u64 = 0xB;
const MASK: u64 = (1 << 48) - 1;
/// `REDIS_LRAND48_MAX`.
const MAX: u64 = i32::MAX as u64;

static STATE: AtomicU64 = AtomicU64::new(INITIAL);

/// The next value of the sequence (31 bits), as `redisLrand48`.
pub fn next() -> u32 {
    let step = |x: u64| x.wrapping_mul(MULTIPLIER).wrapping_add(INCREMENT) & MASK;
    let prev = STATE
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| Some(step(x)))
        .expect("the update always succeeds");
    (step(prev) >> 17) as u32
}

/// `srand48(seed)`.
pub fn seed(seed: i32) {
    STATE.store(((seed as u32 as u64) << 16) | 0x330E, Ordering::Relaxed);
}

/// Back to the state a server starts with (tests).
pub fn reset() {
    STATE.store(INITIAL, Ordering::Relaxed);
}

unsafe extern "C-unwind" fn math_random(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing here needs dropping.
    unsafe {
        let r = (next() as u64 % MAX) as f64 / MAX as f64;
        match ffi::lua_gettop(l) {
            0 => ffi::lua_pushnumber(l, r),
            1 => {
                let u = ffi::luaL_checkinteger(l, 1) as c_int;
                if u < 1 {
                    super::capi::arg_error(l, 1, b"interval is empty");
                }
                ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
            }
            2 => {
                let lo = ffi::luaL_checkinteger(l, 1) as c_int;
                let up = ffi::luaL_checkinteger(l, 2) as c_int;
                if lo > up {
                    super::capi::arg_error(l, 2, b"interval is empty");
                }
                let span = (up as f64) - (lo as f64) + 1.0;
                ffi::lua_pushnumber(l, (r * span).floor() + lo as f64);
            }
            _ => super::capi::raise(l, b"wrong number of arguments"),
        }
    }
    1
}

unsafe extern "C-unwind" fn math_randomseed(l: *mut lua_State) -> c_int {
    // SAFETY: called by Lua as a C function; nothing here needs dropping.
    unsafe { seed(ffi::luaL_checkinteger(l, 1) as c_int) };
    0
}

/// Replaces `math.random` and `math.randomseed` (the `math` library must be
/// loaded).
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let math: mlua::Table = lua.globals().get("math")?;
    // SAFETY: both follow the C function protocol and raise only through
    // lauxlib with nothing to drop in their frames.
    unsafe {
        math.set("random", lua.create_c_function(math_random)?)?;
        math.set("randomseed", lua.create_c_function(math_randomseed)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_lrand48s() {
        // lrand48's first outputs from its default state, independently:
        // X1 = (0x5DEECE66D * 0x1234ABCD330E + 0xB) mod 2^48, output X1 >> 17.
        let x1 = MULTIPLIER.wrapping_mul(INITIAL).wrapping_add(INCREMENT) & MASK;
        let x2 = MULTIPLIER.wrapping_mul(x1).wrapping_add(INCREMENT) & MASK;
        reset();
        assert_eq!(next(), (x1 >> 17) as u32);
        assert_eq!(next(), (x2 >> 17) as u32);
        reset();
    }
}
