//! Small operating-system calls shared by background threads.

/// Lower the calling thread's CPU priority (nice 10), for work that must yield to requests:
/// search indexing, password hashing.
#[cfg(target_os = "linux")]
pub fn lower_thread_priority() {
    unsafe extern "C" {
        fn setpriority(which: i32, who: u32, prio: i32) -> i32;
    }
    // PRIO_PROCESS (0) with who = 0 is the calling thread on Linux. Raising one's own nice
    // value needs no privilege; failure only means normal priority.
    // SAFETY: a plain libc call with integer arguments.
    let _ = unsafe { setpriority(0, 0, 10) };
}

#[cfg(not(target_os = "linux"))]
pub fn lower_thread_priority() {}
