//! How a comment command's change came out, for its reply: shared by the commands and by the
//! approval of a fork's merge request.

use crate::{
    domain::Environment,
    service::{ServiceError, environments::Applied},
};

/// How a command's change came out.
pub enum Settled {
    /// Applied now or before; its reply is queued.
    Done,
    /// Nothing needed changing.
    Unchanged(Box<Environment>),
    /// The lifecycle refused it; why, for the reply.
    Refused(String),
}

pub fn settled(
    r: Result<(Environment, Applied), ServiceError>,
    note_id: u64,
) -> Result<Settled, ServiceError> {
    match r {
        Ok((_, Applied::Already)) => Ok(Settled::Done),
        Ok((e, Applied::Now)) if e.applied_note(note_id) => Ok(Settled::Done),
        Ok((e, Applied::Now)) => Ok(Settled::Unchanged(Box::new(e))),
        Err(ServiceError::Conflict(m) | ServiceError::NotFound(m)) => {
            Ok(Settled::Refused(format!("Nothing done: {m}.")))
        }
        Err(
            ServiceError::Invalid { field, message } | ServiceError::Dangling { field, message },
        ) => Ok(Settled::Refused(format!(
            "Nothing done: {field} {message}."
        ))),
        Err(e) => Err(e),
    }
}
