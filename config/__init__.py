from config.settings import REPO_ROOT, Settings, get_settings

__all__ = ["REPO_ROOT", "Settings", "get_settings"]
