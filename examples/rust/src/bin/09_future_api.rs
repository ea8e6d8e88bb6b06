//! 09: the Future interface of seed 000: result, set_result, cancel,
//! cancelled, add_done_callback, done, exception, set_exception.
use weft::{Code, Error, Future};

fn show(f: &Future<i64>) {
    println!("callback: {}", f.describe());
}

fn main() {
    weft::run(async {
        let fut = weft::create_future::<i64>();
        fut.add_done_callback(show).unwrap();
        println!("{}", fut.is_done());
        fut.set_result(7).unwrap();
        println!("{} {:?}", fut.is_done(), fut.result());

        let bad = weft::create_future::<i64>();
        bad.add_done_callback(show).unwrap();
        bad.set_error(&Error::new(Code::INVALID.0, Some("bad value")))
            .unwrap();
        println!("exception: {}", bad.result().unwrap_err());

        let gone = weft::create_future::<i64>();
        gone.add_done_callback(show).unwrap();
        println!(
            "cancel: {} cancelled: {}",
            gone.cancel(),
            gone.is_cancelled()
        );
        weft::yield_now().await; // let the callbacks run
                                 // a task is a future too
        let work = weft::spawn(async { 7i64 });
        work.future::<i64>().add_done_callback(show).unwrap();
        println!("work: {:?}", work.await); // the callback was added first: it runs first
    })
    .unwrap();
}

// Output:
// false
// true Ok(7)
// exception: EINVAL (invalid argument): bad value
// cancel: true cancelled: true
// callback: <Future finished result=7>
// callback: <Future finished error=EINVAL: bad value>
// callback: <Future cancelled>
// callback: <Task 'Task-2' finished result=7>
// work: Ok(7)
