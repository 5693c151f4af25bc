//! [`DangerousConfig`]: the builder's switches that weaken the server, kept
//! apart from the ordinary ones so that turning one on is loud at the call
//! site and in review (rustls's `dangerous()` is the model).

use super::AuthorizationServerBuilder;

/// The switches of an [`AuthorizationServerBuilder`] that weaken the
/// server: for demos, tests and migrations, never for a production
/// deployment without a reason written down beside the call.
///
/// Reached through [`AuthorizationServerBuilder::dangerous`]; each switch
/// hands the builder back, so every dangerous switch is spelled
/// `.dangerous().…()` where it is turned on:
///
/// ```
/// use oauth_connect::{AuthorizationServer, MemoryStore};
///
/// let server = AuthorizationServer::builder(MemoryStore::new())
///     .issuer("http://localhost:3000")
///     // A demo: the consent page asks for a user id and believes it.
///     .dangerous()
///     .demo_sign_in()
///     .build()?;
/// assert!(server.config().demo_sign_in());
/// # Ok::<(), oauth_connect::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use = "a dangerous section does nothing until one of its switches is called"]
pub struct DangerousConfig<S> {
    builder: AuthorizationServerBuilder<S>,
}

impl<S> DangerousConfig<S> {
    pub(super) fn new(builder: AuthorizationServerBuilder<S>) -> Self {
        Self { builder }
    }

    /// **Dangerous: demos and tests only.** The consent page of a plain
    /// `/oauth/authorize` flow shows a text box for a user id, and the
    /// decision believes whatever is typed in it: anyone who reaches the
    /// page can approve as any user.
    ///
    /// It is the consent page's
    /// [`ResourceOwnerAuthenticator`](crate::ResourceOwnerAuthenticator):
    /// it replaces one set before, and a later
    /// [`resource_owner`](AuthorizationServerBuilder::resource_owner)
    /// replaces it (the last call wins). A real service plugs in its login
    /// there instead and leaves this off (the default).
    pub fn demo_sign_in(mut self) -> AuthorizationServerBuilder<S> {
        self.builder.demo_sign_in = true;
        self.builder.resource_owner = None;
        self.builder
    }

    /// **Dangerous: weaker than the default.** Only public clients must
    /// send a PKCE challenge (RFC 7636, `S256`) at the authorization
    /// endpoint; a confidential client may omit it (it still cannot send
    /// `plain`). Without PKCE a stolen code can be injected into a
    /// confidential client's session (RFC 9700 §4.5); OAuth 2.1 and the
    /// default require PKCE of every client. Meant for migrating
    /// confidential clients that cannot send a challenge yet.
    pub fn pkce_for_public_clients_only(mut self) -> AuthorizationServerBuilder<S> {
        self.builder.pkce_for_public_clients_only = true;
        self.builder
    }
}
