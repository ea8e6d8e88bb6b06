//! 30: a task group (asyncio.TaskGroup) where one child fails: its siblings
//! and the group's body are cancelled, and the group fails with an error
//! group that holds the child's error.
use weft::{Code, Error, TaskGroup};

async fn worker(name: &'static str, delay: f64, fail: bool) -> weft::Result<()> {
    if let Err(err) = weft::sleep(delay).await {
        println!("  {name} cancelled");
        return Err(err);
    }
    if fail {
        println!("  {name} fails");
        return Err(Error::new(Code::INVALID.0, Some(&format!("{name} broke"))));
    }
    println!("  {name} done");
    Ok(())
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        println!("a task group of four workers; b fails after 0.2 s:");
        // the explicit form, to read the error group after the exit
        let tg = TaskGroup::enter()?;
        tg.spawn_named("a", worker("a", 0.1, false)).detach();
        tg.spawn_named("b", worker("b", 0.2, true)).detach();
        tg.spawn_named("c", worker("c", 1.0, false)).detach();
        tg.spawn_named("d", worker("d", 2.0, false)).detach();
        let body = weft::sleep(5.0).await; // cancelled when b fails
        if body.is_err() {
            println!("  the body is cancelled too");
        }
        match tg.exit(body).await {
            Err(err) if err.code() == Code::GROUP => {
                println!("{}", err.message().unwrap_or_default());
                for e in tg.errors() {
                    let task = e.task.map(|t| t.name()).unwrap_or_default();
                    println!("error: {} from task '{task}'", e.error);
                }
            }
            other => println!("unexpected: {other:?}"),
        }

        // the closure form, everything fine: the body's value comes back
        let total = weft::task_group(|tg| async move {
            let jobs: Vec<_> = (1..=3i64)
                .map(|i| tg.spawn(async move { weft::sleep(0.1 * i as f64).await.map(|_| i * i) }))
                .collect();
            let mut sum = 0;
            for j in jobs {
                sum += j.await?;
            }
            Ok(sum)
        })
        .await?;
        println!("sum of squares: {total:?}");
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// a task group of four workers; b fails after 0.2 s:
//   a done
//   b fails
//   c cancelled
//   d cancelled
//   the body is cancelled too
// unhandled errors in a task group (1 sub-exception): EINVAL: b broke
// error: EINVAL (invalid argument): b broke from task 'b'
// sum of squares: Some(14)
