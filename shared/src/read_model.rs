//! What the enterprise's and the employee's health read models (`query_nucleic`,
//! `query_vaccine`) can refuse: their services return [`ReadError`], mapped to HTTP once here.

use crate::http::ApiError;
use crate::listing::ListError;
use crate::roster::EmployeeError;
use crate::store::StoreError;
use crate::vaccination::ReportError;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A list or its filters, as asked (400).
    #[error(transparent)]
    List(#[from] ListError),
    /// One employee the enterprise cannot see (404, or 410 after a withdrawal).
    #[error(transparent)]
    Employee(#[from] EmployeeError),
    /// A dose entered or a correction asked for (422, or 409 beyond the most kept).
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::List(e) => e.into(),
            ReadError::Employee(e) => e.into(),
            ReadError::Report(e) => e.into(),
            ReadError::Store(e) => e.into(),
        }
    }
}
