//! Warden's Snowflake adapter (issue 13, in progress): the connector protocol client
//! ([`client`]). The adapter itself (the seven checks, automatic and manual setup) is built
//! on it next; until it is, this build registers no Snowflake adapter and a Snowflake
//! create answers 501.

pub mod client;
