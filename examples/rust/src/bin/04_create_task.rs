//! 04: create_task (seed 001): a task starts at the loop's next round, and
//! awaiting it gives its result.
//!
//!     async def work(): return "from the task"
//!     t = asyncio.create_task(work(), name="worker")
//!     print(t.get_name(), await t)
fn main() {
    weft::run(async {
        let t = weft::spawn_named("worker", async { String::from("from the task") });
        println!("spawned, not started yet: {}", !t.is_finished());
        let name = t.task().unwrap().name();
        println!("{name}: {}", t.await.unwrap());
    })
    .unwrap();
}

// Output:
// spawned, not started yet: true
// worker: from the task
