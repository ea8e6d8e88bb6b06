//! 21: a Semaphore bounds how many tasks do something at once, and an Event
//! starts them all together (asyncio.Semaphore, Event).  The permit is a
//! guard: dropping it gives the unit back.  Tasks get the semaphore in the
//! order they asked for it (FIFO).
use std::cell::Cell;
use std::rc::Rc;

use weft::{Error, Event, Semaphore};

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let lp = weft::current_loop()?;
        let (sem, go) = (Semaphore::new(2)?, Event::new()?);
        let (running, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let tasks: Vec<_> = (0..6)
            .map(|n| {
                let (sem, go, running, most) =
                    (sem.clone(), go.clone(), running.clone(), most.clone());
                weft::spawn(async move {
                    go.wait().await?; // everyone starts on the signal
                    let _permit = sem.acquire().await?; // at most 2 at a time
                    running.set(running.get() + 1);
                    most.set(most.get().max(running.get()));
                    println!("fetch {n} starts ({} running)", running.get());
                    weft::sleep(0.02).await?;
                    running.set(running.get() - 1);
                    println!("fetch {n} done");
                    Ok::<(), Error>(())
                })
            })
            .collect();
        weft::sleep(0.01).await?;
        println!("go!");
        go.set();
        for t in tasks {
            t.await?;
        }
        println!(
            "6 fetches, at most {} at a time, in {:.2} s",
            most.get(),
            lp.time() - 0.01
        );
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// go!
// fetch 0 starts (1 running)
// fetch 1 starts (2 running)
// fetch 0 done
// fetch 1 done
// fetch 2 starts (1 running)
// fetch 3 starts (2 running)
// fetch 2 done
// fetch 3 done
// fetch 4 starts (1 running)
// fetch 5 starts (2 running)
// fetch 4 done
// fetch 5 done
// 6 fetches, at most 2 at a time, in 0.06 s
