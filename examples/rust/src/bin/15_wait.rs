//! 15: asyncio.wait waits for a set of tasks and gives back the done and
//! pending sets; on timeout it returns normally, and it never cancels.
//! (Sleeps scaled by 0.1, on the virtual clock.)
use weft::{Error, WaitWhen};

async fn hello(i: i64) -> weft::Result<i64> {
    println!("Hello World {i} at {:.1}", weft::current_loop()?.time());
    weft::sleep(0.1).await?;
    println!("Hello wow World {i} at {:.1}", weft::current_loop()?.time());
    Ok(i)
}

async fn func() -> weft::Result<String> {
    weft::sleep(0.3).await?;
    Ok("value".into())
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop()?;
        // five hellos at once: about 0.1 s, not 0.5 s
        let tasks: Vec<_> = (0..5).map(|i| weft::spawn(hello(i))).collect();
        let (done, pending) = weft::wait(tasks, WaitWhen::AllCompleted).await?;
        println!(
            "{} done, {} pending, at {:.1}",
            done.len(),
            pending.len(),
            lp.time()
        );

        // the done set, read
        let task_list = vec![
            weft::spawn_named("n1", func()),
            weft::spawn_named("n2", func()),
        ];
        let (done, _) = weft::wait(task_list, WaitWhen::AllCompleted).await?;
        for t in done {
            let name = t.task().map(|t| t.name()).unwrap_or_default();
            println!("{name}: {}", t.await?);
        }

        // a timeout that only one task beats: the other keeps running
        let fast = weft::spawn_named("fast", async { weft::sleep(0.1).await });
        let slow = weft::spawn_named("slow", async { weft::sleep(1.0).await });
        let t0 = lp.time();
        let (done, pending) =
            weft::wait_timeout(vec![fast, slow], WaitWhen::AllCompleted, 0.2).await?;
        let names = |v: &[weft::JoinHandle<weft::Result<()>>]| -> Vec<String> {
            v.iter()
                .filter_map(|t| t.task())
                .map(|t| t.name())
                .collect()
        };
        println!(
            "after {:.1} s: done {:?}, pending {:?}",
            lp.time() - t0,
            names(&done),
            names(&pending)
        );

        // FIRST_COMPLETED, then cancel the rest ourselves
        let (done, pending) = weft::wait(pending, WaitWhen::FirstCompleted).await?;
        println!(
            "first completed: {:?} at {:.1} s",
            names(&done),
            lp.time() - t0
        );
        drop(pending);
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// Hello World 0 at 0.0
// Hello World 1 at 0.0
// Hello World 2 at 0.0
// Hello World 3 at 0.0
// Hello World 4 at 0.0
// Hello wow World 0 at 0.1
// Hello wow World 1 at 0.1
// Hello wow World 2 at 0.1
// Hello wow World 3 at 0.1
// Hello wow World 4 at 0.1
// 5 done, 0 pending, at 0.1
// n1: value
// n2: value
// after 0.2 s: done ["fast"], pending ["slow"]
// first completed: ["slow"] at 1.0 s
