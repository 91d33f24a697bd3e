//! Small operating-system calls shared by background threads.

/// Lower the calling thread's CPU priority (nice 10), for work that must yield to requests:
/// search indexing, password hashing.
#[cfg(target_os = "linux")]
pub fn lower_thread_priority() {
    // `None` is who = 0, which on Linux is the calling thread rather than the whole process
    // (threads are tasks with their own nice value). Raising one's own nice value needs no
    // privilege; failure only means normal priority.
    let _ = rustix::process::setpriority_process(None, 10);
}

#[cfg(not(target_os = "linux"))]
pub fn lower_thread_priority() {}
