//! `infonce explain`: the step-by-step walkthrough.

use crate::cli::ExplainArgs;
use crate::error::{Error, Result};

pub fn run(_args: &ExplainArgs) -> Result<()> {
    Err(Error::Usage("error: explain is not built yet".into()))
}
