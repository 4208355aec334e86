"""`python -m atlas_jax` is the same as the `atlas` command."""

from atlas_jax.launch import main

if __name__ == "__main__":
    main()
