//! Synthetic, deterministic CloudTrail logs of a Spinnaker installation.
