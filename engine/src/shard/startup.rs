//! Start-up checks that glommio does not do politely: memlock, io_uring, the allowed CPU set.
//!
//! glommio 0.9 returns an error below 512 KiB of memlock and *panics* when io_uring is refused,
//! and its `CpuSet::online()` ignores cgroup cpusets. So before any shard starts we raise the
//! soft memlock limit to the hard one, probe `io_uring_setup` ourselves, and pin to the CPUs
//! `sched_getaffinity` allows.

/// glommio's minimum soft `RLIMIT_MEMLOCK`.
pub const MIN_MEMLOCK_BYTES: u64 = 512 * 1024;
const DEFAULT_IO_MEMORY: u64 = 10 << 20;
const MIN_IO_MEMORY: u64 = 64 << 10;

/// Raises the soft memlock limit to the hard limit and checks glommio's minimum.
/// Returns the resulting soft limit (`u64::MAX` when unlimited).
pub fn raise_memlock_limit() -> Result<u64, String> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return Err(format!(
            "cannot read RLIMIT_MEMLOCK: {}",
            std::io::Error::last_os_error()
        ));
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own; raising soft to hard needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        }
    }
    let soft = limit.rlim_cur;
    // glommio checks the soft limit whatever the capabilities, so we do too.
    if soft != libc::RLIM_INFINITY && soft < MIN_MEMLOCK_BYTES {
        return Err(format!(
            "the locked-memory limit (RLIMIT_MEMLOCK) is {soft} bytes; tracecore's io_uring shards \
             need at least {MIN_MEMLOCK_BYTES}. Raise it with `ulimit -l 8192` or more (systemd: \
             LimitMEMLOCK=infinity; Docker: --ulimit memlock=-1; Kubernetes: the container \
             runtime's LimitMEMLOCK, plus the IPC_LOCK capability for the DMA buffers)"
        ));
    }
    Ok(if soft == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        soft
    })
}

/// io_memory per shard: 10 MiB when memlock is no constraint, else what fits three rings each.
pub fn io_memory_per_shard(memlock_soft: u64, shards: usize) -> usize {
    if memlock_soft == u64::MAX || has_ipc_lock() {
        return DEFAULT_IO_MEMORY as usize;
    }
    let budget = memlock_soft.saturating_sub(1 << 20) / (3 * shards.max(1) as u64);
    budget.clamp(MIN_IO_MEMORY, DEFAULT_IO_MEMORY) as usize
}

/// Checks that io_uring can be set up in this process (glommio panics if not).
pub fn probe_io_uring() -> Result<(), String> {
    // struct io_uring_params is 120 bytes on every kernel that has io_uring.
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes `params`, which is large enough; we close the fd.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    if fd >= 0 {
        // SAFETY: fd is a file descriptor we just received.
        unsafe { libc::close(fd as i32) };
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    let hint = match error.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "io_uring is blocked: a seccomp profile (Docker >= 25 and containerd >= 2 block it by \
             default) or the sysctl kernel.io_uring_disabled. Allow io_uring_setup, io_uring_enter \
             and io_uring_register (Kubernetes: seccompProfile Unconfined or deploy/seccomp.json) \
             or set kernel.io_uring_disabled=0"
        }
        Some(libc::ENOSYS) => "this kernel has no io_uring (Linux 5.8 or newer is required)",
        Some(libc::ENOMEM) => {
            "io_uring could not lock memory: raise `ulimit -l` or add the IPC_LOCK capability"
        }
        _ => "io_uring_setup failed",
    };
    Err(format!("{hint} ({error})"))
}

/// The CPUs this process may run on (cgroup cpuset / taskset aware).
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; sched_getaffinity fills it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 = this thread; the size matches the struct.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: the index is below CPU_SETSIZE.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

fn has_ipc_lock() -> bool {
    // CAP_IPC_LOCK is capability 14; read the effective set from /proc.
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 14) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_cpus_is_not_empty() {
        assert!(!allowed_cpus().is_empty());
    }

    #[test]
    fn io_memory_fits_the_budget() {
        assert_eq!(io_memory_per_shard(u64::MAX, 4), 10 << 20);
        if !has_ipc_lock() {
            assert_eq!(io_memory_per_shard(8 << 20, 2), ((8 << 20) - (1 << 20)) / 6);
            assert_eq!(io_memory_per_shard(512 << 10, 2), 64 << 10);
        }
    }
}
