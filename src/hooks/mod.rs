//! What a host plugs in besides storage, and the types those hooks speak.
//!
//! The hook traits themselves are at the crate root
//! ([`ResourceOwnerAuthenticator`](crate::ResourceOwnerAuthenticator),
//! [`LinkHook`](crate::LinkHook), [`EventSink`](crate::EventSink)); here
//! are their inputs and outputs, the ready-made implementations
//! ([`NoResourceOwner`], [`NoEvents`], [`SystemClock`], [`SystemRandom`]),
//! and the injected [`Clock`] and [`RandomSource`] that let tests move time.

pub(crate) mod clock;
pub(crate) mod events;
pub(crate) mod link;
pub(crate) mod resource_owner;

pub use crate::model::connect::LinkedAccount;
pub use crate::model::random::{ChaChaRandom, RandomError, RandomSource, SystemRandom};
pub use clock::{Clock, ManualClock, SystemClock};
pub use events::{Event, NoEvents};
pub use link::{
    LinkContext, LinkError, LinkField, LinkFormValues, LinkMethod, Provider, ProviderQuery, Terms,
};
pub use resource_owner::{ConsentRequest, NoResourceOwner, PriorConsent, ScopeCatalogue, SignIn};
