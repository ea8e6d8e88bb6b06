//! 06: a task's result, and a failing task's error reaching its awaiter
//! (seed 004).  An error is weft's code with a message.
use weft::{Code, Error};

fn main() {
    weft::run(async {
        let sum = weft::spawn(async { 1 + 2i64 });
        let bad = weft::spawn(async {
            Err::<i64, Error>(Error::new(Code::INVALID.0, Some("bad input")))
        });
        println!("{:?}", sum.await);
        let err = bad.await.unwrap_err();
        println!("{} | {:?}", err, err.message());
    })
    .unwrap();
}

// Output:
// Ok(3)
// EINVAL (invalid argument): bad input | Some("bad input")
