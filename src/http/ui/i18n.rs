//! The hosted pages' words: one message catalogue per language (English,
//! French and Spanish ship), the host's additions and overrides
//! ([`AuthorizationServerBuilder::messages`](crate::AuthorizationServerBuilder::messages)),
//! and the choice of a page's language: the Connect session's `locale`,
//! else the browser's `Accept-Language` (RFC 9110 §12.5.4), else English.
//!
//! A message may name values in braces (`{app}`); the page fills them in
//! and escapes the result (a host's text is never markup).

use std::collections::BTreeMap;

use language_tags::LanguageTag;

use crate::authorize::ErrorPage;
use crate::error::{FieldError, Problem};

/// The languages that ship.
pub(crate) const SHIPPED: [&str; 3] = ["en", "fr", "es"];

/// The longest `locale` a session may carry (RFC 5646 §4.4.1 advises at
/// least 35 characters of storage).
pub(crate) const MAX_LOCALE_CHARS: usize = 35;

/// A session's `locale`, checked: a well-formed BCP 47 language tag.
pub(crate) fn check_locale(locale: &str) -> Result<String, FieldError> {
    if locale.chars().count() > MAX_LOCALE_CHARS {
        return Err(FieldError::new(
            "locale",
            Problem::TooLong {
                max: MAX_LOCALE_CHARS,
            },
        ));
    }
    match LanguageTag::parse(locale) {
        Ok(tag) if tag.primary_language().len() <= 3 && tag.private_use().is_none() => {
            Ok(locale.to_owned())
        }
        _ => Err(FieldError::new("locale", Problem::InvalidLocale)),
    }
}

/// Strings a host adds or overrides for one language, by message key
/// ([`Messages::keys`] lists them).
///
/// ```
/// use oauth_connect::Messages;
/// let german = Messages::new()
///     .set("consent.allow", "Erlauben")
///     .set("consent.deny", "Ablehnen");
/// assert_eq!(german.get("consent.allow"), Some("Erlauben"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Messages {
    strings: BTreeMap<String, String>,
}

impl Messages {
    /// No strings: every message falls back to the language's shipped
    /// catalogue, then to English.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the text of message `key`. Braced names (`{app}`) are filled
    /// in as in the shipped text of that key.
    pub fn set(mut self, key: impl Into<String>, text: impl Into<String>) -> Self {
        self.strings.insert(key.into(), text.into());
        self
    }

    /// The text set for `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.strings.get(key).map(String::as_str)
    }

    /// Every message key of the hosted pages, with its English text. A
    /// provider category's label is the message `category.<id>` (shipped
    /// for a few common ones; any `category.` key may be set).
    pub fn keys() -> impl Iterator<Item = (&'static str, &'static str)> {
        EN.iter().copied()
    }

    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.strings.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn unknown_key(&self) -> Option<&str> {
        self.strings
            .keys()
            .map(String::as_str)
            .find(|k| !k.starts_with("category.") && !EN.iter().any(|(key, _)| key == k))
    }

    pub(crate) fn has_control_characters(&self) -> bool {
        self.strings
            .values()
            .any(|v| v.chars().any(char::is_control))
    }
}

/// The server's catalogues: the shipped ones and the host's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalogue {
    /// By lower-cased language tag.
    host: BTreeMap<String, Messages>,
}

impl Catalogue {
    pub(crate) fn new(host: BTreeMap<String, Messages>) -> Self {
        Self {
            host: host
                .into_iter()
                .map(|(tag, m)| (tag.to_ascii_lowercase(), m))
                .collect(),
        }
    }

    /// The language the catalogue has for `tag`: itself, or its primary
    /// language.
    fn supported(&self, tag: &str) -> Option<String> {
        let tag = tag.trim().to_ascii_lowercase();
        if tag.is_empty() {
            return None;
        }
        let has = |t: &str| SHIPPED.contains(&t) || self.host.contains_key(t);
        if has(&tag) {
            return Some(tag);
        }
        let primary = tag.split('-').next().unwrap_or_default();
        has(primary).then(|| primary.to_owned())
    }

    /// The page language: the session's `locale`, else the best of
    /// `Accept-Language` the catalogue has, else English.
    pub(crate) fn negotiate(&self, session: Option<&str>, accept: Option<&str>) -> String {
        if let Some(lang) = session.and_then(|s| self.supported(s)) {
            return lang;
        }
        let mut ranges: Vec<(u16, usize, &str)> = accept
            .unwrap_or_default()
            .split(',')
            .take(32)
            .enumerate()
            .filter_map(|(index, item)| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .map_or(Some(1000), parse_quality)?;
                (q > 0 && tag != "*").then_some((q, index, tag))
            })
            .collect();
        ranges.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranges
            .into_iter()
            .find_map(|(_, _, tag)| self.supported(tag))
            .unwrap_or_else(|| "en".to_owned())
    }

    /// The text of `key` in `lang`: the host's, the shipped one, then
    /// English (the host's, then the shipped one).
    pub(crate) fn text<'a>(&'a self, lang: &str, key: &'a str) -> &'a str {
        self.lookup(lang, key).unwrap_or(key)
    }

    /// [`text`](Self::text), `None` when no catalogue has `key`.
    pub(crate) fn lookup<'a>(&'a self, lang: &str, key: &str) -> Option<&'a str> {
        let host = |l: &str| self.host.get(l).and_then(|m| m.get(key));
        host(lang)
            .or_else(|| shipped(lang, key))
            .or_else(|| host("en"))
            .or_else(|| shipped("en", key))
    }
}

/// An RFC 9110 §12.4.2 quality value, in thousandths.
fn parse_quality(q: &str) -> Option<u16> {
    let (whole, fraction) = q.split_once('.').unwrap_or((q, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

fn shipped(lang: &str, key: &str) -> Option<&'static str> {
    let table = match lang {
        "en" => EN,
        "fr" => FR,
        "es" => ES,
        _ => return None,
    };
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// `template` with each `{name}` replaced by its value.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// The keys of an error page's title and message.
pub(crate) fn error_keys(page: ErrorPage) -> (&'static str, &'static str) {
    match page {
        ErrorPage::MissingClientId => ("error.invalid_link.title", "error.missing_client_id"),
        ErrorPage::UnknownClient => ("error.invalid_link.title", "error.unknown_client"),
        ErrorPage::RepeatedParameter => ("error.invalid_link.title", "error.repeated_parameter"),
        ErrorPage::InvalidRedirectUri => ("error.invalid_link.title", "error.invalid_redirect_uri"),
        ErrorPage::MissingRedirectUri => ("error.invalid_link.title", "error.missing_redirect_uri"),
        ErrorPage::UnknownRequest => ("error.unknown_request.title", "error.unknown_request"),
        ErrorPage::ExpiredRequest => ("error.expired.title", "error.expired"),
        ErrorPage::CompletedRequest => ("error.completed.title", "error.completed"),
        ErrorPage::InvalidCsrfToken => ("error.csrf.title", "error.csrf"),
        ErrorPage::TemporarilyUnavailable => ("error.unavailable.title", "error.unavailable"),
        ErrorPage::SignInRequired => ("error.sign_in.title", "error.sign_in"),
        ErrorPage::InvalidLinkState => ("error.link_state.title", "error.link_state"),
        ErrorPage::OtherBrowser => ("error.other_browser.title", "error.other_browser"),
    }
}

/// The key of a form field's problem, as the customer form shows it.
pub(crate) fn problem_key(problem: &Problem) -> &'static str {
    match problem {
        Problem::Required => "problem.required",
        Problem::TooLong { .. } => "problem.too_long",
        Problem::InvalidEmail => "problem.email",
        Problem::InvalidPhone => "problem.phone",
        Problem::IncompleteLocation => "problem.location",
        Problem::InvalidCharacters => "problem.characters",
        _ => "problem.other",
    }
}

/// English: every key, the reference for the others.
pub(crate) const EN: &[(&str, &str)] = &[
    ("page.step", "Step {n} of {m}"),
    ("page.exit", "Exit"),
    ("page.continue", "Continue"),
    ("page.required", "required"),
    ("page.optional", "optional"),
    ("page.help", "Get help"),
    ("page.back_to_app", "Back to the application"),
    ("page.check", "Please check the fields marked below."),
    ("page.signed_in_as", "Signed in as {user}"),
    ("page.not_you", "Not you? Sign in with another account"),
    ("consent.title", "Allow {app} to access your account?"),
    ("consent.wants", "{app} wants to:"),
    (
        "consent.return",
        "After you decide you will return to {url}.",
    ),
    ("consent.allow", "Allow"),
    ("consent.deny", "Deny"),
    ("consent.demo_label", "Demo sign-in: your user id"),
    (
        "consent.demo_note",
        "Demo only. A real service identifies its signed-in user here with its own login.",
    ),
    ("connect.title", "Connect your account to {app}"),
    ("connect.title_update", "Update your connection to {app}"),
    (
        "connect.notice_out_of_order",
        "That step was already done (or is not available yet): here is where you are.",
    ),
    ("step.terms", "Terms"),
    ("step.provider", "Choose your provider"),
    ("step.link", "Connect your {provider} account"),
    ("step.customer", "Your details"),
    ("step.consent", "Review and allow"),
    ("terms.read", "Read the full terms"),
    ("terms.accept", "Accept and continue"),
    ("picker.filter", "Search providers"),
    ("picker.search", "Search"),
    ("picker.none", "No provider matches your search."),
    ("picker.count", "Providers shown: {n}"),
    ("picker.missing", "Can't find your provider?"),
    (
        "picker.missing_help",
        "Exit now and tell the application; you can start again later.",
    ),
    ("category.battery", "Home batteries"),
    ("category.ev", "Electric vehicles"),
    ("category.thermostat", "Thermostats"),
    ("category.solar", "Solar"),
    ("category.utility", "Utilities"),
    ("category.charger", "EV chargers"),
    ("category.inverter", "Inverters"),
    ("category.meter", "Meters"),
    (
        "link.redirect_lead",
        "You will sign in at {provider} and come back here.",
    ),
    ("link.continue", "Continue to {provider}"),
    ("link.change", "Choose another provider"),
    ("link.submit", "Connect"),
    (
        "link.retry",
        "You can try again, choose another provider, or exit.",
    ),
    ("link.failed", "The link did not work"),
    (
        "link.waiting",
        "Finish signing in at {provider} in the window that opened; this page moves on by itself.",
    ),
    (
        "link.blocked",
        "Your browser blocked the sign-in window: allow pop-ups for this site, then try again.",
    ),
    ("customer.first_name", "First name"),
    ("customer.last_name", "Last name"),
    ("customer.email", "E-mail"),
    ("customer.phone", "Phone"),
    ("customer.address", "Address"),
    (
        "customer.address_hint",
        "An address is optional, but give all of it or none.",
    ),
    ("customer.street", "Street address"),
    ("customer.city", "City"),
    ("customer.state", "State or region"),
    ("customer.postal_code", "Postal code"),
    ("customer.country", "Country"),
    ("customer.choose_country", "Choose a country"),
    ("review.lead", "{app} will be able to:"),
    ("review.account", "Account: {account}"),
    ("review.as", "Connecting as {name} ({email})."),
    ("problem.required", "This field is required."),
    ("problem.too_long", "This is too long."),
    (
        "problem.email",
        "Enter an e-mail address, like name@example.com.",
    ),
    (
        "problem.phone",
        "Enter a phone number: digits, spaces, + - ( ) .",
    ),
    (
        "problem.location",
        "Give all of the address, or none of it.",
    ),
    (
        "problem.characters",
        "This contains characters that are not allowed.",
    ),
    ("problem.other", "Check this field."),
    ("error.invalid_link.title", "This sign-in link is not valid"),
    (
        "error.missing_client_id",
        "The application did not identify itself. Go back to the application and start again.",
    ),
    (
        "error.unknown_client",
        "The application is not registered here. Go back to the application and start again.",
    ),
    (
        "error.repeated_parameter",
        "The request repeats a parameter. Go back to the application and start again.",
    ),
    (
        "error.invalid_redirect_uri",
        "The application asked to return to an address it has not registered, so you were not sent there. Contact the application's developer.",
    ),
    (
        "error.missing_redirect_uri",
        "The application did not say where to return. Contact the application's developer.",
    ),
    ("error.unknown_request.title", "This link is not valid"),
    (
        "error.unknown_request",
        "The link is unknown or incomplete. Go back to the application and start again.",
    ),
    ("error.expired.title", "This link has expired"),
    (
        "error.expired",
        "The link is only valid for a short time. Go back to the application and start again.",
    ),
    (
        "error.completed.title",
        "This request was already completed",
    ),
    (
        "error.completed",
        "You already approved or denied this request. Go back to the application; start again there if needed.",
    ),
    ("error.csrf.title", "Your decision could not be verified"),
    (
        "error.csrf",
        "The form could not be verified. Reload the page and try again.",
    ),
    ("error.unavailable.title", "Temporarily unavailable"),
    (
        "error.unavailable",
        "The service could not complete your request. Try again in a moment.",
    ),
    ("error.sign_in.title", "Sign in to continue"),
    (
        "error.sign_in",
        "You need to be signed in to approve this request. Sign in, then start again from the application.",
    ),
    ("error.link_state.title", "This link could not be verified"),
    (
        "error.link_state",
        "The return from the provider was not expected, was already used, or took too long. Go back to the application and start again.",
    ),
    (
        "error.other_browser.title",
        "This Connect session was opened in another browser",
    ),
    (
        "error.other_browser",
        "For your security, a Connect session continues only in the browser that opened it. Start again from the app.",
    ),
    ("window.linked.title", "Your {provider} account is linked"),
    (
        "window.linked",
        "You can close this window: Connect goes on in its own window.",
    ),
    (
        "window.failed.title",
        "{provider} did not link your account",
    ),
    (
        "window.failed",
        "Close this window and try again in the Connect window.",
    ),
    ("message.title", "Return to the application"),
    (
        "message.sent",
        "Your answer was sent to the application. You can close this window.",
    ),
    (
        "message.gone",
        "The window that started this request is gone: go back to the application and start again.",
    ),
    (
        "message.no_script",
        "JavaScript is off, so your answer could not be sent: go back to the application and start again.",
    ),
    ("message.continue", "Continue"),
    ("sdk.title", "Connect your account"),
    ("sdk.close", "Close"),
    ("result.connected.title", "Connected"),
    ("result.connected", "You can close this window."),
    ("result.not_connected.title", "Not connected"),
    (
        "result.not_connected",
        "Nothing was shared. You can close this window.",
    ),
    ("consent.sign_in", "Sign in"),
];

/// French.
pub(crate) const FR: &[(&str, &str)] = &[
    ("page.step", "Étape {n} sur {m}"),
    ("page.exit", "Quitter"),
    ("page.continue", "Continuer"),
    ("page.required", "obligatoire"),
    ("page.optional", "facultatif"),
    ("page.help", "Obtenir de l'aide"),
    ("page.back_to_app", "Retour à l'application"),
    ("page.check", "Vérifiez les champs signalés ci-dessous."),
    ("page.signed_in_as", "Connecté en tant que {user}"),
    (
        "page.not_you",
        "Ce n'est pas vous ? Connectez-vous avec un autre compte",
    ),
    (
        "consent.title",
        "Autoriser {app} à accéder à votre compte ?",
    ),
    ("consent.wants", "{app} souhaite :"),
    (
        "consent.return",
        "Après votre choix, vous reviendrez à {url}.",
    ),
    ("consent.allow", "Autoriser"),
    ("consent.deny", "Refuser"),
    (
        "consent.demo_label",
        "Connexion de démonstration : votre identifiant",
    ),
    (
        "consent.demo_note",
        "Démonstration seulement. Un vrai service identifie ici son utilisateur connecté avec sa propre connexion.",
    ),
    ("connect.title", "Connectez votre compte à {app}"),
    (
        "connect.title_update",
        "Mettez à jour votre connexion à {app}",
    ),
    (
        "connect.notice_out_of_order",
        "Cette étape est déjà faite (ou pas encore disponible) : voici où vous en êtes.",
    ),
    ("step.terms", "Conditions"),
    ("step.provider", "Choisissez votre fournisseur"),
    ("step.link", "Connectez votre compte {provider}"),
    ("step.customer", "Vos coordonnées"),
    ("step.consent", "Vérifier et autoriser"),
    ("terms.read", "Lire les conditions complètes"),
    ("terms.accept", "Accepter et continuer"),
    ("picker.filter", "Rechercher un fournisseur"),
    ("picker.search", "Rechercher"),
    (
        "picker.none",
        "Aucun fournisseur ne correspond à votre recherche.",
    ),
    ("picker.count", "Fournisseurs affichés : {n}"),
    ("picker.missing", "Vous ne trouvez pas votre fournisseur ?"),
    (
        "picker.missing_help",
        "Quittez maintenant et prévenez l'application ; vous pourrez recommencer plus tard.",
    ),
    ("category.battery", "Batteries domestiques"),
    ("category.ev", "Véhicules électriques"),
    ("category.thermostat", "Thermostats"),
    ("category.solar", "Solaire"),
    ("category.utility", "Fournisseurs d'énergie"),
    ("category.charger", "Bornes de recharge"),
    ("category.inverter", "Onduleurs"),
    ("category.meter", "Compteurs"),
    (
        "link.redirect_lead",
        "Vous vous connecterez chez {provider} puis reviendrez ici.",
    ),
    ("link.continue", "Continuer vers {provider}"),
    ("link.change", "Choisir un autre fournisseur"),
    ("link.submit", "Connecter"),
    (
        "link.retry",
        "Vous pouvez réessayer, choisir un autre fournisseur ou quitter.",
    ),
    ("link.failed", "La connexion n'a pas abouti"),
    (
        "link.waiting",
        "Terminez la connexion chez {provider} dans la fenêtre ouverte ; cette page avancera d'elle-même.",
    ),
    (
        "link.blocked",
        "Votre navigateur a bloqué la fenêtre de connexion : autorisez les fenêtres surgissantes pour ce site, puis réessayez.",
    ),
    ("customer.first_name", "Prénom"),
    ("customer.last_name", "Nom"),
    ("customer.email", "Adresse e-mail"),
    ("customer.phone", "Téléphone"),
    ("customer.address", "Adresse"),
    (
        "customer.address_hint",
        "L'adresse est facultative, mais donnez-la en entier ou pas du tout.",
    ),
    ("customer.street", "Adresse postale"),
    ("customer.city", "Ville"),
    ("customer.state", "Région ou État"),
    ("customer.postal_code", "Code postal"),
    ("customer.country", "Pays"),
    ("customer.choose_country", "Choisissez un pays"),
    ("review.lead", "{app} pourra :"),
    ("review.account", "Compte : {account}"),
    ("review.as", "Connexion en tant que {name} ({email})."),
    ("problem.required", "Ce champ est obligatoire."),
    ("problem.too_long", "C'est trop long."),
    (
        "problem.email",
        "Saisissez une adresse e-mail, comme nom@exemple.fr.",
    ),
    (
        "problem.phone",
        "Saisissez un numéro de téléphone : chiffres, espaces, + - ( ) .",
    ),
    (
        "problem.location",
        "Donnez l'adresse en entier, ou pas du tout.",
    ),
    (
        "problem.characters",
        "Ce champ contient des caractères non autorisés.",
    ),
    ("problem.other", "Vérifiez ce champ."),
    (
        "error.invalid_link.title",
        "Ce lien de connexion n'est pas valide",
    ),
    (
        "error.missing_client_id",
        "L'application ne s'est pas identifiée. Retournez à l'application et recommencez.",
    ),
    (
        "error.unknown_client",
        "L'application n'est pas enregistrée ici. Retournez à l'application et recommencez.",
    ),
    (
        "error.repeated_parameter",
        "La demande répète un paramètre. Retournez à l'application et recommencez.",
    ),
    (
        "error.invalid_redirect_uri",
        "L'application a demandé à revenir à une adresse qu'elle n'a pas enregistrée ; vous n'y avez donc pas été envoyé. Contactez le développeur de l'application.",
    ),
    (
        "error.missing_redirect_uri",
        "L'application n'a pas indiqué où revenir. Contactez le développeur de l'application.",
    ),
    ("error.unknown_request.title", "Ce lien n'est pas valide"),
    (
        "error.unknown_request",
        "Le lien est inconnu ou incomplet. Retournez à l'application et recommencez.",
    ),
    ("error.expired.title", "Ce lien a expiré"),
    (
        "error.expired",
        "Le lien n'est valable que peu de temps. Retournez à l'application et recommencez.",
    ),
    ("error.completed.title", "Cette demande est déjà terminée"),
    (
        "error.completed",
        "Vous avez déjà autorisé ou refusé cette demande. Retournez à l'application ; recommencez-y si besoin.",
    ),
    ("error.csrf.title", "Votre choix n'a pas pu être vérifié"),
    (
        "error.csrf",
        "Le formulaire n'a pas pu être vérifié. Rechargez la page et réessayez.",
    ),
    (
        "error.unavailable.title",
        "Service momentanément indisponible",
    ),
    (
        "error.unavailable",
        "Le service n'a pas pu traiter votre demande. Réessayez dans un instant.",
    ),
    ("error.sign_in.title", "Connectez-vous pour continuer"),
    (
        "error.sign_in",
        "Vous devez être connecté pour autoriser cette demande. Connectez-vous, puis recommencez depuis l'application.",
    ),
    ("error.link_state.title", "Ce lien n'a pas pu être vérifié"),
    (
        "error.link_state",
        "Le retour du fournisseur était inattendu, déjà utilisé ou trop tardif. Retournez à l'application et recommencez.",
    ),
    (
        "error.other_browser.title",
        "Cette session Connect a été ouverte dans un autre navigateur",
    ),
    (
        "error.other_browser",
        "Pour votre sécurité, une session Connect ne se poursuit que dans le navigateur qui l'a ouverte. Recommencez depuis l'application.",
    ),
    (
        "window.linked.title",
        "Votre compte {provider} est connecté",
    ),
    (
        "window.linked",
        "Vous pouvez fermer cette fenêtre : Connect continue dans sa propre fenêtre.",
    ),
    (
        "window.failed.title",
        "{provider} n'a pas connecté votre compte",
    ),
    (
        "window.failed",
        "Fermez cette fenêtre et réessayez dans la fenêtre Connect.",
    ),
    ("message.title", "Retour à l'application"),
    (
        "message.sent",
        "Votre réponse a été envoyée à l'application. Vous pouvez fermer cette fenêtre.",
    ),
    (
        "message.gone",
        "La fenêtre à l'origine de cette demande n'existe plus : retournez à l'application et recommencez.",
    ),
    (
        "message.no_script",
        "JavaScript est désactivé, votre réponse n'a donc pas pu être envoyée : retournez à l'application et recommencez.",
    ),
    ("message.continue", "Continuer"),
    ("sdk.title", "Connectez votre compte"),
    ("sdk.close", "Fermer"),
    ("result.connected.title", "Connecté"),
    ("result.connected", "Vous pouvez fermer cette fenêtre."),
    ("result.not_connected.title", "Non connecté"),
    (
        "result.not_connected",
        "Rien n'a été partagé. Vous pouvez fermer cette fenêtre.",
    ),
    ("consent.sign_in", "Se connecter"),
];

/// Spanish.
pub(crate) const ES: &[(&str, &str)] = &[
    ("page.step", "Paso {n} de {m}"),
    ("page.exit", "Salir"),
    ("page.continue", "Continuar"),
    ("page.required", "obligatorio"),
    ("page.optional", "opcional"),
    ("page.help", "Obtener ayuda"),
    ("page.back_to_app", "Volver a la aplicación"),
    ("page.check", "Revise los campos señalados abajo."),
    ("page.signed_in_as", "Sesión iniciada como {user}"),
    (
        "page.not_you",
        "¿No es usted? Inicie sesión con otra cuenta",
    ),
    ("consent.title", "¿Permitir que {app} acceda a su cuenta?"),
    ("consent.wants", "{app} quiere:"),
    ("consent.return", "Después de decidir volverá a {url}."),
    ("consent.allow", "Permitir"),
    ("consent.deny", "Rechazar"),
    (
        "consent.demo_label",
        "Inicio de sesión de demostración: su identificador",
    ),
    (
        "consent.demo_note",
        "Solo demostración. Un servicio real identifica aquí a su usuario con su propio inicio de sesión.",
    ),
    ("connect.title", "Conecte su cuenta a {app}"),
    ("connect.title_update", "Actualice su conexión con {app}"),
    (
        "connect.notice_out_of_order",
        "Ese paso ya está hecho (o aún no está disponible): aquí es donde está.",
    ),
    ("step.terms", "Condiciones"),
    ("step.provider", "Elija su proveedor"),
    ("step.link", "Conecte su cuenta de {provider}"),
    ("step.customer", "Sus datos"),
    ("step.consent", "Revisar y permitir"),
    ("terms.read", "Leer las condiciones completas"),
    ("terms.accept", "Aceptar y continuar"),
    ("picker.filter", "Buscar proveedores"),
    ("picker.search", "Buscar"),
    ("picker.none", "Ningún proveedor coincide con su búsqueda."),
    ("picker.count", "Proveedores mostrados: {n}"),
    ("picker.missing", "¿No encuentra su proveedor?"),
    (
        "picker.missing_help",
        "Salga ahora e infórmelo a la aplicación; podrá empezar de nuevo más tarde.",
    ),
    ("category.battery", "Baterías domésticas"),
    ("category.ev", "Vehículos eléctricos"),
    ("category.thermostat", "Termostatos"),
    ("category.solar", "Solar"),
    ("category.utility", "Compañías de energía"),
    ("category.charger", "Cargadores"),
    ("category.inverter", "Inversores"),
    ("category.meter", "Contadores"),
    (
        "link.redirect_lead",
        "Iniciará sesión en {provider} y volverá aquí.",
    ),
    ("link.continue", "Continuar a {provider}"),
    ("link.change", "Elegir otro proveedor"),
    ("link.submit", "Conectar"),
    (
        "link.retry",
        "Puede intentarlo de nuevo, elegir otro proveedor o salir.",
    ),
    ("link.failed", "La conexión no funcionó"),
    (
        "link.waiting",
        "Termine de iniciar sesión en {provider} en la ventana que se abrió; esta página avanzará sola.",
    ),
    (
        "link.blocked",
        "Su navegador bloqueó la ventana de inicio de sesión: permita las ventanas emergentes para este sitio e inténtelo de nuevo.",
    ),
    ("customer.first_name", "Nombre"),
    ("customer.last_name", "Apellidos"),
    ("customer.email", "Correo electrónico"),
    ("customer.phone", "Teléfono"),
    ("customer.address", "Dirección"),
    (
        "customer.address_hint",
        "La dirección es opcional, pero désela completa o no la dé.",
    ),
    ("customer.street", "Calle y número"),
    ("customer.city", "Ciudad"),
    ("customer.state", "Estado o región"),
    ("customer.postal_code", "Código postal"),
    ("customer.country", "País"),
    ("customer.choose_country", "Elija un país"),
    ("review.lead", "{app} podrá:"),
    ("review.account", "Cuenta: {account}"),
    ("review.as", "Conectando como {name} ({email})."),
    ("problem.required", "Este campo es obligatorio."),
    ("problem.too_long", "Es demasiado largo."),
    (
        "problem.email",
        "Escriba un correo electrónico, como nombre@ejemplo.com.",
    ),
    (
        "problem.phone",
        "Escriba un número de teléfono: dígitos, espacios, + - ( ) .",
    ),
    ("problem.location", "Dé la dirección completa o no la dé."),
    ("problem.characters", "Contiene caracteres no permitidos."),
    ("problem.other", "Revise este campo."),
    (
        "error.invalid_link.title",
        "Este enlace de inicio de sesión no es válido",
    ),
    (
        "error.missing_client_id",
        "La aplicación no se identificó. Vuelva a la aplicación y empiece de nuevo.",
    ),
    (
        "error.unknown_client",
        "La aplicación no está registrada aquí. Vuelva a la aplicación y empiece de nuevo.",
    ),
    (
        "error.repeated_parameter",
        "La solicitud repite un parámetro. Vuelva a la aplicación y empiece de nuevo.",
    ),
    (
        "error.invalid_redirect_uri",
        "La aplicación pidió volver a una dirección que no ha registrado, así que no se le envió allí. Contacte con el desarrollador de la aplicación.",
    ),
    (
        "error.missing_redirect_uri",
        "La aplicación no indicó adónde volver. Contacte con el desarrollador de la aplicación.",
    ),
    ("error.unknown_request.title", "Este enlace no es válido"),
    (
        "error.unknown_request",
        "El enlace es desconocido o está incompleto. Vuelva a la aplicación y empiece de nuevo.",
    ),
    ("error.expired.title", "Este enlace ha caducado"),
    (
        "error.expired",
        "El enlace solo es válido durante poco tiempo. Vuelva a la aplicación y empiece de nuevo.",
    ),
    ("error.completed.title", "Esta solicitud ya se completó"),
    (
        "error.completed",
        "Ya permitió o rechazó esta solicitud. Vuelva a la aplicación; empiece de nuevo allí si hace falta.",
    ),
    ("error.csrf.title", "No se pudo verificar su decisión"),
    (
        "error.csrf",
        "No se pudo verificar el formulario. Recargue la página e inténtelo de nuevo.",
    ),
    ("error.unavailable.title", "No disponible temporalmente"),
    (
        "error.unavailable",
        "El servicio no pudo completar su solicitud. Inténtelo de nuevo en un momento.",
    ),
    ("error.sign_in.title", "Inicie sesión para continuar"),
    (
        "error.sign_in",
        "Debe iniciar sesión para permitir esta solicitud. Inicie sesión y empiece de nuevo desde la aplicación.",
    ),
    ("error.link_state.title", "No se pudo verificar este enlace"),
    (
        "error.link_state",
        "La vuelta desde el proveedor no se esperaba, ya se usó o tardó demasiado. Vuelva a la aplicación y empiece de nuevo.",
    ),
    (
        "error.other_browser.title",
        "Esta sesión de Connect se abrió en otro navegador",
    ),
    (
        "error.other_browser",
        "Por su seguridad, una sesión de Connect solo continúa en el navegador que la abrió. Empiece de nuevo desde la aplicación.",
    ),
    (
        "window.linked.title",
        "Su cuenta de {provider} está conectada",
    ),
    (
        "window.linked",
        "Puede cerrar esta ventana: Connect continúa en su propia ventana.",
    ),
    ("window.failed.title", "{provider} no conectó su cuenta"),
    (
        "window.failed",
        "Cierre esta ventana e inténtelo de nuevo en la ventana de Connect.",
    ),
    ("message.title", "Volver a la aplicación"),
    (
        "message.sent",
        "Su respuesta se envió a la aplicación. Puede cerrar esta ventana.",
    ),
    (
        "message.gone",
        "La ventana que inició esta solicitud ya no existe: vuelva a la aplicación y empiece de nuevo.",
    ),
    (
        "message.no_script",
        "JavaScript está desactivado, así que su respuesta no se pudo enviar: vuelva a la aplicación y empiece de nuevo.",
    ),
    ("message.continue", "Continuar"),
    ("sdk.title", "Conecte su cuenta"),
    ("sdk.close", "Cerrar"),
    ("result.connected.title", "Conectado"),
    ("result.connected", "Puede cerrar esta ventana."),
    ("result.not_connected.title", "No conectado"),
    (
        "result.not_connected",
        "No se compartió nada. Puede cerrar esta ventana.",
    ),
    ("consent.sign_in", "Iniciar sesión"),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped language has exactly the English keys, each naming
    /// the same `{values}`, and the embed script carries the `sdk.*` texts.
    #[test]
    fn catalogues_are_complete_and_alike() {
        let braces = |s: &str| -> Vec<String> {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect()
        };
        for table in [FR, ES] {
            assert_eq!(table.len(), EN.len());
            for ((key, en), (other_key, text)) in EN.iter().zip(table) {
                assert_eq!(key, other_key);
                assert_eq!(braces(en), braces(text), "{key}");
                assert!(!text.is_empty());
            }
        }
        let sdk = include_str!("assets/connect-sdk.js");
        for lang in SHIPPED {
            for key in ["sdk.title", "sdk.close"] {
                let text = shipped(lang, key).unwrap();
                assert!(
                    sdk.contains(&format!("'{}'", text.replace('\'', "\\'"))),
                    "{lang} {key}"
                );
            }
        }
    }

    #[test]
    fn the_session_locale_then_accept_language_then_english() {
        let c = Catalogue::new(BTreeMap::from([(
            "de".to_owned(),
            Messages::new().set("consent.allow", "Erlauben"),
        )]));
        assert_eq!(c.negotiate(Some("fr-CA"), Some("es")), "fr");
        assert_eq!(c.negotiate(Some("ja"), Some("es-MX,en;q=0.5")), "es");
        assert_eq!(c.negotiate(None, Some("ja, de;q=0.9, fr;q=0.95")), "fr");
        assert_eq!(c.negotiate(None, Some("fr;q=0, de-AT")), "de");
        assert_eq!(c.negotiate(None, Some("*")), "en");
        assert_eq!(
            c.negotiate(None, Some("fr;q=2")),
            "en",
            "a bad q is skipped"
        );
        assert_eq!(c.negotiate(None, None), "en");
        assert_eq!(c.text("de", "consent.allow"), "Erlauben");
        assert_eq!(
            c.text("de", "consent.deny"),
            "Deny",
            "English fills the gaps"
        );
        assert_eq!(c.text("es", "consent.deny"), "Rechazar");
    }

    #[test]
    fn locales_are_bcp_47_tags() {
        for good in ["fr", "es-MX", "zh-Hant-TW", "en-US"] {
            assert_eq!(check_locale(good).unwrap(), good);
        }
        for bad in [
            "",
            "french!",
            "fr_FR",
            "x-private",
            &"a".repeat(36),
            "en-US-",
        ] {
            let e = check_locale(bad).unwrap_err();
            assert_eq!(e.field, "locale", "{bad}");
        }
    }

    #[test]
    fn quality_values() {
        assert_eq!(parse_quality("0.8"), Some(800));
        assert_eq!(parse_quality("1"), Some(1000));
        assert_eq!(parse_quality("1.000"), Some(1000));
        assert_eq!(parse_quality("0"), Some(0));
        assert_eq!(parse_quality("1.5"), None);
        assert_eq!(parse_quality("0.1234"), None);
    }
}
