from tests.pipeline.sfu.conftest import live  # noqa: F401  (one live server per module)
