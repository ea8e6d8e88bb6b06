//! 20: a producer and three consumers share a bounded queue (asyncio.Queue):
//! put waits while the queue is full, join waits until every job is marked
//! done, and shutdown (Python 3.13) tells the consumers there is no more.
//! The jobs are Rust values: the queue moves them from producer to consumer.
use weft::{Code, Error, Queue};

struct Job {
    n: u32,
    duration: f64,
}

async fn consumer(name: String, queue: Queue<Job>) -> weft::Result<weft::Local<Vec<u32>>> {
    let mut done = Vec::new();
    loop {
        let job = match queue.get().await {
            Ok(job) => job,
            Err(e) if e.code() == Code::QUEUE_SHUTDOWN => return Ok(weft::Local(done)),
            Err(e) => return Err(e),
        };
        weft::sleep(job.duration).await?;
        println!("{name} finished job {}", job.n);
        done.push(job.n);
        queue.task_done()?;
    }
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop()?;
        let queue = Queue::new(3)?;
        let workers: Vec<_> = (0..3)
            .map(|i| weft::spawn(consumer(format!("worker-{i}"), queue.clone())))
            .collect();
        for n in 0..10 {
            let duration = f64::from(n * 7 % 4 + 1) * 0.01;
            queue.put(Job { n, duration }).await?; // waits while 3 jobs are queued
            println!("produced job {n} (queue: {})", queue.qsize());
        }
        queue.join().await?; // every job processed
        queue.shutdown(false); // no more jobs: the consumers return
        for (i, w) in workers.into_iter().enumerate() {
            println!("worker-{i} processed {:?}", w.await?.0);
        }
        println!(
            "10 jobs in {:.2} s (one after the other: 0.25 s)",
            lp.time()
        );
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// produced job 0 (queue: 1)
// produced job 1 (queue: 2)
// produced job 2 (queue: 3)
// produced job 3 (queue: 1)
// produced job 4 (queue: 2)
// produced job 5 (queue: 3)
// worker-0 finished job 0
// produced job 6 (queue: 3)
// worker-2 finished job 2
// worker-0 finished job 3
// produced job 7 (queue: 2)
// produced job 8 (queue: 3)
// worker-1 finished job 1
// worker-2 finished job 4
// produced job 9 (queue: 2)
// worker-2 finished job 7
// worker-0 finished job 5
// worker-1 finished job 6
// worker-2 finished job 8
// worker-0 finished job 9
// worker-0 processed [0, 3, 5, 9]
// worker-1 processed [1, 6]
// worker-2 processed [2, 4, 7, 8]
// 10 jobs in 0.11 s (one after the other: 0.25 s)
