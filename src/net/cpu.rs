//! How much CPU the server could still use: the machine's idle time from `/proc/stat`, capped
//! by the CPU limit of the server's cgroup, if it has one. In a container limited to two CPUs
//! on a 32-CPU host, `/proc/stat` shows the host's thirty idle CPUs; what the connection loops
//! need to know is whether the *container* has time left, which is its quota minus what its
//! cgroup used. Both cgroup v2 (`cpu.max`, `cpu.stat`'s `usage_usec`) and v1
//! (`cpu.cfs_quota_us` / `cpu.cfs_period_us`, `cpuacct.usage`) are read, walking up from the
//! server's own cgroup so a limit set on a parent counts too (the tightest one wins).
//!
//! Owns reading those files and the arithmetic. Knows nothing of loops or placement, and
//! must not touch the store, the AOF or the data lock.

use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the CPU figures come from: found once at startup.
#[derive(Debug, Clone)]
pub struct CpuSource {
    proc_stat: PathBuf,
    limit: Option<CgroupLimit>,
}

/// The tightest CPU limit among the server's cgroup and its parents.
#[derive(Debug, Clone, PartialEq)]
pub struct CgroupLimit {
    /// CPUs the cgroup may use per second of wall time (quota / period).
    pub cpus: f64,
    /// The file holding that cgroup's CPU usage.
    usage: UsageFile,
}

#[derive(Debug, Clone, PartialEq)]
enum UsageFile {
    /// cgroup v2 `cpu.stat`, `usage_usec` line.
    V2Stat(PathBuf),
    /// cgroup v1 `cpuacct.usage`, nanoseconds.
    V1Acct(PathBuf),
}

/// One sample of the counters: compare two with [`CpuSource::spare_permille`].
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    at: Instant,
    /// Idle plus iowait time of all the host's CPUs, in clock ticks.
    host_idle_ticks: Option<u64>,
    /// CPU time the limited cgroup has used, in nanoseconds.
    cgroup_used_ns: Option<u64>,
}

impl CpuSource {
    /// Finds this process's cgroup limit under `/sys/fs/cgroup`.
    pub fn detect() -> CpuSource {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        CpuSource::from_parts(Path::new("/proc/stat"), &own, Path::new("/sys/fs/cgroup"))
    }

    /// `own` is the text of `/proc/self/cgroup`; `root` where the cgroup file systems are.
    pub fn from_parts(proc_stat: &Path, own: &str, root: &Path) -> CpuSource {
        let limit = if root.join("cgroup.controllers").exists() {
            v2_limit(own, root)
        } else {
            v1_limit(own, root)
        };
        CpuSource {
            proc_stat: proc_stat.to_path_buf(),
            limit,
        }
    }

    /// The cgroup's CPU limit, if there is one.
    pub fn limit(&self) -> Option<&CgroupLimit> {
        self.limit.as_ref()
    }

    /// The counters now.
    pub fn read(&self) -> Reading {
        let proc_stat = std::fs::read_to_string(&self.proc_stat).ok();
        Reading {
            at: Instant::now(),
            host_idle_ticks: proc_stat.as_deref().and_then(parse_idle_ticks),
            cgroup_used_ns: self.limit.as_ref().and_then(|l| l.usage.read_ns()),
        }
    }

    /// CPU left unused between two readings, in thousandths of a CPU: the host's idle time,
    /// or what the cgroup's limit left unused if that is less. None if `/proc/stat` could
    /// not be read either time.
    pub fn spare_permille(
        &self,
        before: &Reading,
        after: &Reading,
        ticks_per_sec: f64,
    ) -> Option<u64> {
        let secs = after.at.duration_since(before.at).as_secs_f64().max(1e-3);
        let idle_ticks = after
            .host_idle_ticks?
            .saturating_sub(before.host_idle_ticks?);
        let host = idle_ticks as f64 / ticks_per_sec / secs * 1000.0;
        let cgroup = match (&self.limit, before.cgroup_used_ns, after.cgroup_used_ns) {
            (Some(limit), Some(used0), Some(used)) => {
                let used_cpus = used.saturating_sub(used0) as f64 / 1e9 / secs;
                ((limit.cpus - used_cpus) * 1000.0).max(0.0)
            }
            _ => f64::INFINITY,
        };
        Some(host.min(cgroup) as u64)
    }
}

impl UsageFile {
    fn read_ns(&self) -> Option<u64> {
        match self {
            UsageFile::V2Stat(path) => {
                parse_usage_usec(&std::fs::read_to_string(path).ok()?).map(|us| us * 1000)
            }
            UsageFile::V1Acct(path) => std::fs::read_to_string(path).ok()?.trim().parse().ok(),
        }
    }
}

/// Idle and iowait time of all CPUs together, in clock ticks (`/proc/stat`'s `cpu` line).
pub fn parse_idle_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().ok());
    let idle = fields.nth(3)??;
    let iowait = fields.next().flatten().unwrap_or(0);
    Some(idle + iowait)
}

/// cgroup v2 `cpu.max`: `"200000 100000"` is two CPUs; `"max 100000"` is no limit.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?.parse::<f64>().ok()?;
    let period = parts
        .next()
        .map_or(Some(100_000.0), |p| p.parse::<f64>().ok())?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us`: a quota of -1 is no limit.
pub fn parse_cfs(quota: &str, period: &str) -> Option<f64> {
    let quota = quota.trim().parse::<f64>().ok()?;
    let period = period.trim().parse::<f64>().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// cgroup v2 `cpu.stat`'s `usage_usec`.
pub fn parse_usage_usec(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|line| line.strip_prefix("usage_usec "))
        .and_then(|v| v.trim().parse().ok())
}

/// The server's cgroup path for a v1 controller (`cpu`, `cpuacct`), or the v2 one (`None`),
/// from `/proc/self/cgroup` (`"4:cpu,cpuacct:/docker/abc"`, `"0::/system.slice/x"`).
fn own_path(own: &str, controller: Option<&str>) -> Option<String> {
    own.lines().find_map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let wanted = match controller {
            None => controllers.is_empty(),
            Some(name) => controllers.split(',').any(|c| c == name),
        };
        wanted.then(|| path.to_string())
    })
}

/// `dir` and each of its parents up to `mount`, innermost first. A path the container does
/// not see (its cgroup namespace hides the host's hierarchy) falls back to the mount itself.
fn dir_and_parents(mount: &Path, path: &str) -> Vec<PathBuf> {
    let mut dir = mount.join(path.trim_start_matches('/'));
    if !dir.is_dir() {
        dir = mount.to_path_buf();
    }
    let mut dirs = vec![dir.clone()];
    while dir != mount && dir.pop() && dir.starts_with(mount) {
        dirs.push(dir.clone());
    }
    dirs
}

fn tightest(limits: impl Iterator<Item = CgroupLimit>) -> Option<CgroupLimit> {
    limits.min_by(|a, b| a.cpus.total_cmp(&b.cpus))
}

fn v2_limit(own: &str, root: &Path) -> Option<CgroupLimit> {
    let path = own_path(own, None).unwrap_or_default();
    tightest(dir_and_parents(root, &path).into_iter().filter_map(|dir| {
        let cpus = parse_cpu_max(&std::fs::read_to_string(dir.join("cpu.max")).ok()?)?;
        let usage = UsageFile::V2Stat(dir.join("cpu.stat"));
        Some(CgroupLimit { cpus, usage })
    }))
}

fn v1_limit(own: &str, root: &Path) -> Option<CgroupLimit> {
    let cpu_path = own_path(own, Some("cpu")).unwrap_or_default();
    let acct_path = own_path(own, Some("cpuacct")).unwrap_or_else(|| cpu_path.clone());
    let cpu_mount = first_dir(root, &["cpu", "cpu,cpuacct", "cpuacct,cpu"])?;
    let acct_mount = first_dir(root, &["cpuacct", "cpu,cpuacct", "cpuacct,cpu"])?;
    let acct_dirs = dir_and_parents(&acct_mount, &acct_path);
    let cpu_dirs = dir_and_parents(&cpu_mount, &cpu_path);
    tightest(cpu_dirs.iter().enumerate().filter_map(|(depth, dir)| {
        let quota = std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok()?;
        let period = std::fs::read_to_string(dir.join("cpu.cfs_period_us")).ok()?;
        let cpus = parse_cfs(&quota, &period)?;
        // The usage of the same level of the hierarchy, on the cpuacct side.
        let acct = acct_dirs
            .get(depth)
            .unwrap_or(&acct_dirs[acct_dirs.len() - 1]);
        let usage = UsageFile::V1Acct(acct.join("cpuacct.usage"));
        Some(CgroupLimit { cpus, usage })
    }))
}

fn first_dir(root: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().map(|n| root.join(n)).find(|d| d.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::time::Duration;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn parses_the_files() {
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2.0));
        assert_eq!(parse_cpu_max("50000 100000"), Some(0.5));
        assert_eq!(parse_cpu_max("max 100000"), None);
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("150000\n", "100000\n"), Some(1.5));
        assert_eq!(
            parse_usage_usec("usage_usec 1234\nuser_usec 1000\n"),
            Some(1234)
        );
        assert_eq!(parse_usage_usec("user_usec 1000\n"), None);
        let stat = "cpu  10 0 20 300 40 0 0 0 0 0\ncpu0 1 0 2 30 4 0 0 0 0 0\n";
        assert_eq!(parse_idle_ticks(stat), Some(340));
    }

    #[test]
    fn finds_a_v2_limit_on_a_parent() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(&root.join("cgroup.controllers"), "cpu memory\n");
        write(&root.join("kube/cpu.max"), "300000 100000\n");
        write(&root.join("kube/pod/cpu.max"), "max 100000\n");
        write(&root.join("kube/pod/cpu.stat"), "usage_usec 5\n");
        let source = CpuSource::from_parts(Path::new("/nonexistent"), "0::/kube/pod\n", root);
        let limit = source.limit().expect("the parent's limit");
        assert_eq!(limit.cpus, 3.0);
        assert_eq!(limit.usage, UsageFile::V2Stat(root.join("kube/cpu.stat")));
    }

    #[test]
    fn a_namespaced_v2_cgroup_reads_the_mount() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(&root.join("cgroup.controllers"), "cpu\n");
        write(&root.join("cpu.max"), "100000 100000\n");
        // The host path is not visible inside the container's namespace.
        let source = CpuSource::from_parts(Path::new("/x"), "0::/docker/abc\n", root);
        assert_eq!(source.limit().map(|l| l.cpus), Some(1.0));
    }

    #[test]
    fn finds_a_v1_limit_and_none_without_one() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(
            &root.join("cpu,cpuacct/docker/abc/cpu.cfs_quota_us"),
            "200000\n",
        );
        write(
            &root.join("cpu,cpuacct/docker/abc/cpu.cfs_period_us"),
            "100000\n",
        );
        write(&root.join("cpu,cpuacct/docker/abc/cpuacct.usage"), "77\n");
        write(&root.join("cpu,cpuacct/cpu.cfs_quota_us"), "-1\n");
        write(&root.join("cpu,cpuacct/cpu.cfs_period_us"), "100000\n");
        let own = "5:cpu,cpuacct:/docker/abc\n0::/\n";
        let source = CpuSource::from_parts(Path::new("/x"), own, root);
        let limit = source.limit().expect("a v1 limit");
        assert_eq!(limit.cpus, 2.0);
        assert_eq!(limit.usage.read_ns(), Some(77));
        let unlimited = CpuSource::from_parts(Path::new("/x"), "5:cpu,cpuacct:/\n", root);
        assert!(unlimited.limit().is_none());
    }

    #[test]
    fn spare_cpu_is_capped_by_the_quota() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        write(&root.join("cgroup.controllers"), "cpu\n");
        write(&root.join("cpu.max"), "200000 100000\n");
        let source = CpuSource::from_parts(&root.join("stat"), "0::/\n", root);
        let start = Instant::now();
        let at = |secs: f64, idle: u64, used_ns: u64| Reading {
            at: start + Duration::from_secs_f64(secs),
            host_idle_ticks: Some(idle),
            cgroup_used_ns: Some(used_ns),
        };
        // One second: the host had 30 CPUs idle (3000 ticks at 100 Hz), the container used
        // 1.5 of its 2 CPUs, so half a CPU is to spare.
        let spare = source.spare_permille(&at(0.0, 0, 0), &at(1.0, 3000, 1_500_000_000), 100.0);
        assert_eq!(spare, Some(500));
        // Over its quota (throttled): nothing to spare, never negative.
        let spare = source.spare_permille(&at(0.0, 0, 0), &at(1.0, 3000, 2_500_000_000), 100.0);
        assert_eq!(spare, Some(0));
        // The host is busier than the quota: the host's idle time is what is left.
        let spare = source.spare_permille(&at(0.0, 0, 0), &at(1.0, 20, 0), 100.0);
        assert_eq!(spare, Some(200));
        // Reads the real files it was given.
        write(&root.join("stat"), "cpu  1 0 1 50 0 0 0 0 0 0\n");
        write(&root.join("cpu.stat"), "usage_usec 10\n");
        let reading = source.read();
        assert_eq!(reading.host_idle_ticks, Some(50));
        assert_eq!(reading.cgroup_used_ns, Some(10_000));
    }
}
