//! 12: a coroutine stops in the middle and is resumed at the same line:
//! Python's generator send() (seed 000), as a weft task fed through futures.
//!
//!     def gen():
//!         global num
//!         print("the function was called")
//!         for i in range(3):
//!             num += yield i
//!             print("num is now:", num)
//!     g = gen(); print(g.send(None)); print(g.send(3))
use std::cell::RefCell;
use std::rc::Rc;

use weft::Future;

/// A one-slot mailbox of weft futures: send() completes the current one.
type Inbox = Rc<RefCell<Future<i64>>>;

fn main() {
    weft::run(async {
        let inbox: Inbox = Rc::new(RefCell::new(weft::create_future()));
        let yielded: Inbox = Rc::new(RefCell::new(weft::create_future()));
        let (i2, y2) = (inbox.clone(), yielded.clone());
        let gen = weft::spawn(async move {
            let mut num = 0;
            println!("the function was called");
            for i in 0..3 {
                let next = weft::create_future();
                let out = std::mem::replace(&mut *y2.borrow_mut(), next);
                out.set_result(i)?; // yield i
                let sent = i2.borrow().clone(); // (no RefCell borrow across an await)
                let got = sent.await?; // ... and wait for send()
                *i2.borrow_mut() = weft::create_future();
                num += got;
                println!("num is now: {num}");
            }
            Ok::<i64, weft::Error>(num)
        });
        let next = yielded.borrow().clone();
        let first = next.await.unwrap(); // g.send(None)
        println!("{first}");
        inbox.borrow().set_result(3).unwrap(); // g.send(3)
        let next = yielded.borrow().clone();
        let second = next.await.unwrap();
        println!("{second}");
        gen.cancel(); // g.close()
        println!("closed: {}", gen.await.unwrap_err().is_cancelled());
    })
    .unwrap();
}

// Output:
// the function was called
// 0
// num is now: 3
// 1
// closed: true
