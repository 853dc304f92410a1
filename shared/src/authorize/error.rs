//! Why an authorisation flow refuses: one variant per rule of manual §2 and §9, with the sentence
//! people read. The routes map each to its HTTP status and stable code, once.

use crate::ids::{IdError, UsccError};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("no enterprise with this unified social credit code")]
    UnknownEnterprise,
    #[error("confirm with a face verification first, then try again")]
    FaceVerificationRequired,
    #[error("say why you need access (申请原因)")]
    ReasonRequired,
    #[error("the reason is limited to {0} characters")]
    ReasonTooLong(usize),
    #[error("you are this enterprise's legal representative and need no authorisation")]
    IsLegalRep,
    #[error("you are already authorised for this enterprise")]
    AlreadyAuthorized,
    #[error("your application is already waiting for the legal representative")]
    AlreadyPending,
    #[error("{0}")]
    InvalidLink(String),
    #[error("{0}")]
    LinkExpired(String),
    #[error("this link does not exist (any more)")]
    UnknownLink,
    #[error("this link has already been used")]
    LinkUsed,
    #[error("only the enterprise's legal representative may open this link")]
    NotTheLegalRep,
    #[error("this application has already been decided")]
    ApplicationDecided,
    #[error("valid_until must be in the future")]
    ValidUntilPast,
    #[error("no application from this person")]
    UnknownApplication,
    #[error("this application has already been decided")]
    NotPending,
    #[error("this person holds no authorisation here")]
    UnknownAgent,
    #[error("only a granted authorisation can be revoked")]
    NotActive,
    /// An agent's name in an offline batch (1-based position).
    #[error("agent {0}: {1}")]
    InvalidName(usize, crate::ids::NameError),
    #[error("{0}")]
    InvalidUscc(UsccError),
    #[error("a batch has 1 to {0} agents")]
    InvalidBatch(usize),
    #[error(
        "all four materials (form, licence, both identity copies) and the e-mail reference are required"
    )]
    MaterialsIncomplete,
    #[error("the e-mail approval cannot be in the future")]
    EmailApprovalInFuture,
    #[error("the 15 days for the paper originals have already passed since this e-mail approval")]
    EmailApprovalTooOld,
    /// An agent's ID number in an offline batch (1-based position).
    #[error("agent {0}: {1}")]
    InvalidIdNumber(usize, IdError),
    #[error("received_at cannot be in the future")]
    ReceivedInFuture,
    #[error("the originals cannot arrive before the e-mail approval")]
    ReceivedBeforeApproval,
    #[error("this authorisation is not an active offline grant")]
    NotOffline,
    #[error("the originals are already recorded")]
    OriginalsRecorded,
    #[error("the 15-day deadline for the originals has passed; the grant has lapsed, grant again")]
    OriginalsOverdue,
    #[error("the originals arrived after the 15-day deadline; the grant has lapsed")]
    OriginalsLate,
    #[error("the cursor is not one this API issued")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::store::BadCursorOr> for AuthorizeError {
    fn from(e: crate::store::BadCursorOr) -> Self {
        match e {
            crate::store::BadCursorOr::Store(s) => Self::Store(s),
            crate::store::BadCursorOr::Cursor(_) => Self::InvalidCursor,
        }
    }
}
