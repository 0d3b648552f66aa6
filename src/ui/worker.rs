//! The page's Web Worker: the page's own WebAssembly, instantiated a second time off the main
//! thread, runs a job ([`crate::sim::job`]: a comparison, a sweep) while the page keeps drawing
//! and playing.
//!
//! One worker per job ([`module_worker`]), sent the job as JSON ([`JobRequest`]). [`serve`]
//! runs it there and posts [`JobReport`]s back as JSON: progress before each run, then the
//! outcome. A panic in the worker is reported as [`JobError::Crashed`] and takes only the
//! worker with it.
//!
//! Where no worker can be started (a browser that refuses module workers), or its script or the
//! module fails to load there, the job ends with [`JobError::NoWorker`]: the page holds no
//! engine to run it itself.

use crate::authoring::JobRequest;
use crate::sim::job::{JobError, JobProgress, JobReport, News, Outcome};
use crate::ui::module_worker;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use wasm_bindgen::JsCast;

/// A job handed to a worker. Dropping it before the job has finished stops it (the student
/// cancelled, or the page moved on to another scenario): the worker is terminated, and a
/// report still on its way is not heard.
pub struct JobHandle {
    worker: Rc<RefCell<Option<web_sys::Worker>>>,
    cancelled: Rc<Cell<bool>>,
    _listening: Option<module_worker::Listening>,
}

impl JobHandle {
    /// A handle for a job that never started.
    fn unstarted(cancelled: Rc<Cell<bool>>) -> Self {
        Self {
            worker: Rc::new(RefCell::new(None)),
            cancelled,
            _listening: None,
        }
    }
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        self.cancelled.set(true);
        if let Some(worker) = self.worker.borrow_mut().take() {
            worker.set_onmessage(None);
            worker.set_onerror(None);
            worker.terminate();
        }
    }
}

/// Runs the job in a new worker; `on_report` hears its progress and then its outcome (on a
/// later task, never from inside the call).
pub fn start(request: JobRequest, on_report: impl Fn(JobReport) + 'static) -> JobHandle {
    let on_report: Rc<dyn Fn(JobReport)> = Rc::new(on_report);
    let cancelled = Rc::new(Cell::new(false));
    match spawn(&request, Rc::clone(&on_report), Rc::clone(&cancelled)) {
        Ok(handle) => handle,
        Err(why) => {
            report_later(
                &on_report,
                &cancelled,
                JobReport {
                    id: request.id,
                    news: News::Done(Err(JobError::NoWorker(why))),
                },
            );
            JobHandle::unstarted(cancelled)
        }
    }
}

/// Tells `on_report` of `report` on a later task, unless the job was cancelled by then.
fn report_later(on_report: &Rc<dyn Fn(JobReport)>, cancelled: &Rc<Cell<bool>>, report: JobReport) {
    let (on_report, cancelled) = (Rc::clone(on_report), Rc::clone(cancelled));
    wasm_bindgen_futures::spawn_local(async move {
        if !cancelled.get() {
            on_report(report)
        }
    });
}

/// Builds the job of `request` and runs it, telling `progress` how far it has got.
fn run(request: &JobRequest, progress: impl FnMut(JobProgress)) -> Result<Outcome, JobError> {
    request
        .job()
        .map_err(|error| JobError::Scenario(error.to_string()))?
        .run(progress)
}

fn spawn(
    request: &JobRequest,
    on_report: Rc<dyn Fn(JobReport)>,
    cancelled: Rc<Cell<bool>>,
) -> Result<JobHandle, String> {
    let text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    let worker = module_worker::spawn(module_worker::JOB_ENTRY, Some(&text))?;
    let cell = Rc::new(RefCell::new(Some(worker.clone())));
    // Whether the worker has reported: a failure before that is a worker that could not start;
    // after it, the job's own failure.
    let reported = Rc::new(Cell::new(false));
    let finished = Rc::new(Cell::new(false));
    let id = request.id;
    // Ends the job once: stops the worker and says how it failed.
    let fail = {
        let (cell, on_report, cancelled) = (
            Rc::clone(&cell),
            Rc::clone(&on_report),
            Rc::clone(&cancelled),
        );
        let (reported, finished) = (Rc::clone(&reported), Rc::clone(&finished));
        Rc::new(move |why: String| {
            if finished.replace(true) {
                return;
            }
            if let Some(worker) = cell.borrow_mut().take() {
                worker.terminate();
            }
            let error = if reported.get() {
                JobError::Crashed(why)
            } else {
                JobError::NoWorker(format!("its worker did not start ({why})"))
            };
            let report = JobReport {
                id,
                news: News::Done(Err(error)),
            };
            report_later(&on_report, &cancelled, report);
        })
    };
    let news = {
        let (cell, on_report) = (Rc::clone(&cell), Rc::clone(&on_report));
        let cancelled = Rc::clone(&cancelled);
        move |text: String| {
            reported.set(true);
            // One worker runs one job: its reports are that job's, whatever id they carry (a
            // request it could not read, or a panic before it started, has none).
            let report = match serde_json::from_str::<JobReport>(&text) {
                Ok(report) => JobReport { id, ..report },
                Err(error) => JobReport {
                    id,
                    news: News::Done(Err(JobError::Unreadable(error.to_string()))),
                },
            };
            if matches!(report.news, News::Done(_)) {
                finished.set(true);
                if let Some(worker) = cell.borrow_mut().take() {
                    worker.terminate();
                }
            }
            report_later(&on_report, &cancelled, report);
        }
    };
    let listening = module_worker::listen(&worker, news, move |why| fail(why));
    // From here, dropping the handle (an error below) stops the worker.
    let handle = JobHandle {
        worker: cell,
        cancelled,
        _listening: Some(listening),
    };
    Ok(handle)
}

thread_local! {
    /// The job the worker runs, for its panic report.
    static RUNNING: Cell<Option<u32>> = const { Cell::new(None) };
}

/// In the worker: runs the job the page sent first (a [`JobRequest`] as JSON, the first of
/// `early`), posting a [`JobReport`] before each run and one with the outcome.
pub fn serve(early: &js_sys::Array) {
    let request = early.get(0).as_string().unwrap_or_default();
    module_worker::report_panics(|why, _| JobReport {
        id: RUNNING.with(Cell::get).unwrap_or_default(),
        news: News::Done(Err(JobError::Crashed(why))),
    });
    let request: JobRequest = match serde_json::from_str(&request) {
        Ok(request) => request,
        Err(error) => {
            post(&JobReport {
                id: 0,
                news: News::Done(Err(JobError::Unreadable(error.to_string()))),
            });
            return;
        }
    };
    RUNNING.with(|r| r.set(Some(request.id)));
    let id = request.id;
    let outcome = run(&request, |progress| {
        post(&JobReport {
            id,
            news: News::Progress(progress),
        })
    });
    post(&JobReport {
        id,
        news: News::Done(outcome),
    });
    js_sys::global()
        .unchecked_into::<web_sys::DedicatedWorkerGlobalScope>()
        .close();
}

fn post(report: &JobReport) {
    module_worker::post_json(report);
}
