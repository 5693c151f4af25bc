//! What a host plugs in besides storage: the resource owner's sign-in and
//! consent, the Connect link hook and its providers, the event sink and the
//! clock.

pub(crate) mod clock;
pub(crate) mod events;
pub(crate) mod link;
pub(crate) mod resource_owner;
