//! What the core says to its front ends, in one vocabulary that every front
//! end reads the same way, in this process or through the daemon: the
//! documents (`documents`: connection info, a plugin's inspection, consent
//! words), the steps of a long job (`progress`), what to do next after a
//! refusal (`next`), and escaping of untrusted text (`display`). No D-Bus and no plugin runtime: the core depends on this
//! crate, and so can a front end that links neither.

pub mod display;
pub mod documents;
pub mod files;
pub mod next;
pub mod progress;

pub use documents::{Asked, ClientCredentials, ConnectionInfo, Inspection};
pub use next::{Hinted, Next};
pub use progress::{Operation, Progress, Step, Stream, STEPS};
