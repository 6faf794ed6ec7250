//! The worker pool's contract: bounded, never blocking, panic-proof, orderly shutdown.

use std::sync::mpsc;
use std::time::Duration;

use turbine_pool::{JobError, PoolConfig, SubmitError, WorkerPool, WorkerPriority};

/// Starts a pool whose single worker is held busy until the returned sender is dropped.
fn busy_pool(queue: usize) -> (WorkerPool, mpsc::Sender<()>) {
    let pool = WorkerPool::new(PoolConfig::new().workers(1).queue(queue)).unwrap();
    let (hold, held) = mpsc::channel::<()>();
    let (started, wait_started) = mpsc::channel();
    pool.submit(move || {
        started.send(()).unwrap();
        let _ = held.recv(); // returns when `hold` is dropped
    })
    .unwrap();
    wait_started.recv().unwrap();
    (pool, hold)
}

/// Past the queue bound a submission fails at once and hands the job back, runnable.
#[test]
fn full_queue_hands_the_job_back() {
    let (pool, hold) = busy_pool(2);
    pool.submit(|| {}).unwrap();
    pool.submit(|| {}).unwrap();
    let (tx, rx) = mpsc::channel();
    let rejected = pool.submit(move || tx.send(42).unwrap()).unwrap_err();
    let SubmitError::Full(job) = rejected else {
        panic!("expected Full");
    };
    job(); // handed back whole: the caller can run it itself
    assert_eq!(rx.recv().unwrap(), 42);
    assert_eq!(pool.stats().rejected, 1);
    assert_eq!(pool.stats().queued, 2);
    drop(hold);
    pool.shutdown(Duration::from_secs(5));
    let stats = pool.stats();
    assert_eq!((stats.completed, stats.queued, stats.running), (3, 0, 0));
}

/// A panicking job is reported to its waiter; the worker survives and the next 1,000 jobs
/// succeed.
#[test]
fn panic_is_reported_and_the_worker_lives_on() {
    let pool = WorkerPool::new(PoolConfig::new().workers(2).queue(2000)).unwrap();
    let (tx, rx) = mpsc::channel();
    pool.submit_with(|| -> u32 { panic!("boom") }, move |r| tx.send(r).unwrap())
        .unwrap();
    assert_eq!(rx.recv().unwrap(), Err(JobError::Panicked("boom".into())));
    let (tx, rx) = mpsc::channel();
    for i in 0..1000u32 {
        let tx = tx.clone();
        pool.submit_with(move || i * 2, move |r| tx.send(r).unwrap())
            .unwrap();
    }
    let mut sum = 0;
    for _ in 0..1000 {
        sum += rx.recv().unwrap().unwrap();
    }
    assert_eq!(sum, (0..1000).map(|i| i * 2).sum::<u32>());
    let stats = pool.stats();
    assert_eq!((stats.panicked, stats.workers), (1, 2));
    pool.shutdown(Duration::from_secs(5));
    assert_eq!(pool.stats().completed, 1000);
}

/// Shutdown stops new submissions, drops the jobs still queued at the deadline (their waiters
/// hear `Cancelled`), and joins every worker.
#[test]
fn shutdown_deadline_cancels_queued_jobs() {
    let (pool, hold) = busy_pool(10);
    let (tx, rx) = mpsc::channel();
    for _ in 0..5 {
        let tx = tx.clone();
        pool.submit_with(|| 1, move |r| tx.send(r).unwrap())
            .unwrap();
    }
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        drop(hold);
    });
    pool.shutdown(Duration::ZERO);
    releaser.join().unwrap();
    for _ in 0..5 {
        assert_eq!(rx.recv().unwrap(), Err(JobError::Cancelled));
    }
    let stats = pool.stats();
    assert_eq!((stats.dropped, stats.workers, stats.queued), (5, 0, 0));
    assert!(matches!(pool.submit(|| {}), Err(SubmitError::Closed(_))));
}

/// Queued jobs still run when the deadline allows it.
#[test]
fn shutdown_finishes_queued_jobs_in_time() {
    let pool = WorkerPool::new(PoolConfig::new().workers(1).queue(100)).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..50 {
        let tx = tx.clone();
        pool.submit(move || tx.send(i).unwrap()).unwrap();
    }
    pool.shutdown(Duration::from_secs(10));
    assert_eq!(rx.try_iter().count(), 50);
}

/// `Low` priority puts workers under SCHED_BATCH with nice +10 (read back from /proc), unless
/// the system refuses, in which case they keep running at normal priority.
#[test]
fn low_priority_is_applied() {
    let pool = WorkerPool::new(
        PoolConfig::new()
            .workers(1)
            .priority(WorkerPriority::Low)
            .name("prio-test"),
    )
    .unwrap();
    let (tx, rx) = mpsc::channel();
    pool.submit(move || {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let fields: Vec<String> = stat[stat.rfind(')').unwrap() + 2..]
            .split(' ')
            .map(str::to_string)
            .collect();
        // After the comm field: index 16 is nice (field 19), index 38 the policy (field 41).
        tx.send((fields[16].clone(), fields[38].clone())).unwrap();
    })
    .unwrap();
    let (nice, policy) = rx.recv().unwrap();
    const SCHED_BATCH: &str = "3";
    if policy == SCHED_BATCH {
        assert_eq!(nice, "10");
    } else {
        eprintln!("priority refused here (policy {policy}, nice {nice}); workers run normally");
    }
}
