//! The API's closed sets of words (statuses, sources, kinds, environments) as types. Each
//! serialises to the very string the API has always spoken and stored, so nothing at rest or
//! on the wire changes; code matches on variants, and validation and the OpenAPI document take
//! their allowed values from `NAMES`.

/// A closed set of words: every variant, and its word.
pub trait Word: Copy + Eq + Sized + 'static {
    /// Every variant, in the contract's order.
    const ALL: &'static [Self];
    /// Every word, in the same order (validation messages, OpenAPI enums).
    const NAMES: &'static [&'static str];

    fn as_str(self) -> &'static str;

    /// The variant spelled `s`, if any.
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }
}

macro_rules! words {
    ($(
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }
    )*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant),+
        }

        impl Word for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            const NAMES: &'static [&'static str] = &[$($word),+];

            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

words! {
    /// Where an execution stands: `queued → running → completed | failed`, `queued → cancelled`.
    ExecutionStatus {
        Queued = "queued",
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }

    /// What made an execution.
    Source {
        /// An admitted gateway call.
        Surface = "surface",
        /// A schedule's firing or run-now.
        Schedule = "schedule",
    }

    /// What started an execution, finer than its source.
    Trigger {
        /// The scheduler fired a due occurrence.
        Schedule = "schedule",
        /// run-now.
        Manual = "manual",
        /// A gateway call.
        Gateway = "gateway",
    }

    /// A surface's channel.
    SurfaceType {
        Chat = "chat",
        Api = "api",
        Mcp = "mcp",
        McpCode = "mcp_code",
        Webhook = "webhook",
        Schedule = "schedule",
        A2a = "a2a",
        Email = "email",
        Slack = "slack",
        Sms = "sms",
        Imessage = "imessage",
        Discord = "discord",
        Whatsapp = "whatsapp",
        Telegram = "telegram",
        HostedPage = "hosted-page",
        ChromeExtension = "chrome_extension",
    }

    /// A surface's lifecycle: only an `active` surface admits calls.
    SurfaceStatus {
        Draft = "draft",
        Active = "active",
        Paused = "paused",
    }

    /// A surface's environment.
    SurfaceEnvironment {
        Development = "development",
        Production = "production",
    }

    /// A surface key's environment (`rt_test_…` or `rt_live_…` style), carried onto the
    /// executions it makes.
    Environment {
        Test = "test",
        Production = "production",
    }

    /// The kind part of a surface key (`papi_…`, `mcp_…`, `a2a_…`): which surfaces it opens.
    KeyKind {
        Papi = "papi",
        Mcp = "mcp",
        A2a = "a2a",
    }

    /// When a schedule fires.
    TriggerType {
        OneTime = "one_time",
        Recurring = "recurring",
    }

    /// Where the last write of a definition came from.
    Provenance {
        /// The ordinary endpoints.
        Api = "api",
        /// Products as code (ensure).
        Ensure = "ensure",
        /// The operator's command.
        Cli = "cli",
    }
}

// What a record from before the field existed reads as, or what a `Default` record starts
// with.
macro_rules! default_words {
    ($($name:ident => $variant:ident),*) => {$(
        impl Default for $name {
            fn default() -> Self {
                $name::$variant
            }
        }
    )*};
}

default_words! {
    ExecutionStatus => Queued,
    Source => Surface,
    Trigger => Gateway,
    SurfaceType => Api,
    SurfaceStatus => Draft,
    SurfaceEnvironment => Development,
    Environment => Test,
    KeyKind => Papi,
    TriggerType => OneTime,
    Provenance => Api
}

impl ExecutionStatus {
    /// Whether it has ended (nothing more will happen to it).
    pub fn is_final(self) -> bool {
        match self {
            ExecutionStatus::Completed | ExecutionStatus::Failed | ExecutionStatus::Cancelled => {
                true
            }
            ExecutionStatus::Queued | ExecutionStatus::Running => false,
        }
    }
}

impl SurfaceType {
    /// The kind of key that opens this surface.
    pub fn key_kind(self) -> KeyKind {
        match self {
            SurfaceType::Mcp | SurfaceType::McpCode => KeyKind::Mcp,
            SurfaceType::A2a => KeyKind::A2a,
            SurfaceType::Api
            | SurfaceType::Chat
            | SurfaceType::Webhook
            | SurfaceType::Schedule
            | SurfaceType::Email
            | SurfaceType::Slack
            | SurfaceType::Sms
            | SurfaceType::Imessage
            | SurfaceType::Discord
            | SurfaceType::Whatsapp
            | SurfaceType::Telegram
            | SurfaceType::HostedPage
            | SurfaceType::ChromeExtension => KeyKind::Papi,
        }
    }

    /// The last segment of the surface's public endpoint, for the types that have one.
    pub fn endpoint_tail(self) -> Option<&'static str> {
        match self {
            SurfaceType::Api => Some("api"),
            SurfaceType::Mcp | SurfaceType::McpCode => Some("mcp"),
            SurfaceType::A2a => Some("a2a"),
            SurfaceType::Chat
            | SurfaceType::Webhook
            | SurfaceType::Schedule
            | SurfaceType::Email
            | SurfaceType::Slack
            | SurfaceType::Sms
            | SurfaceType::Imessage
            | SurfaceType::Discord
            | SurfaceType::Whatsapp
            | SurfaceType::Telegram
            | SurfaceType::HostedPage
            | SurfaceType::ChromeExtension => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<W: Word + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug>() {
        assert_eq!(W::ALL.len(), W::NAMES.len());
        for (v, name) in W::ALL.iter().zip(W::NAMES) {
            assert_eq!(v.as_str(), *name);
            assert_eq!(serde_json::to_value(v).unwrap(), serde_json::json!(name));
            assert_eq!(
                serde_json::from_value::<W>(serde_json::json!(name)).unwrap(),
                *v
            );
            assert_eq!(W::parse(name), Some(*v));
        }
        assert_eq!(W::parse("nope"), None);
    }

    #[test]
    fn every_word_is_the_string_stored_before() {
        round_trips::<ExecutionStatus>();
        round_trips::<Source>();
        round_trips::<Trigger>();
        round_trips::<SurfaceType>();
        round_trips::<SurfaceStatus>();
        round_trips::<SurfaceEnvironment>();
        round_trips::<Environment>();
        round_trips::<KeyKind>();
        round_trips::<TriggerType>();
        round_trips::<Provenance>();
        assert_eq!(
            SurfaceType::NAMES,
            [
                "chat",
                "api",
                "mcp",
                "mcp_code",
                "webhook",
                "schedule",
                "a2a",
                "email",
                "slack",
                "sms",
                "imessage",
                "discord",
                "whatsapp",
                "telegram",
                "hosted-page",
                "chrome_extension"
            ]
        );
        assert_eq!(
            ExecutionStatus::NAMES,
            ["queued", "running", "completed", "failed", "cancelled"]
        );
    }

    #[test]
    fn keys_and_endpoints_follow_the_type() {
        assert_eq!(SurfaceType::McpCode.key_kind(), KeyKind::Mcp);
        assert_eq!(SurfaceType::A2a.key_kind(), KeyKind::A2a);
        assert_eq!(SurfaceType::Chat.key_kind(), KeyKind::Papi);
        assert_eq!(SurfaceType::McpCode.endpoint_tail(), Some("mcp"));
        assert_eq!(SurfaceType::Slack.endpoint_tail(), None);
    }
}
