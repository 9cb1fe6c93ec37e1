import pytest

# tests/conftest.py loads these as plugins after its own imports have imported them: marked here,
# before that, pytest rewrites their asserts as a plugin's (and does not warn that it cannot).
pytest.register_assert_rewrite("tests.support.session_log", "tests.support.run_summary")
