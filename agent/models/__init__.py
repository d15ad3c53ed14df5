"""The models engram runs: registry, fetch (assemble + verify + convert) and loading."""
