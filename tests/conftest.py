import os

from hypothesis import settings

from tensorcalc.strategies import CI_PROFILE

settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", CI_PROFILE))
