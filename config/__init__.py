from config.settings import HTTP_KEEP_ALIVE_S, REPO_ROOT, Settings, get_settings

__all__ = ["HTTP_KEEP_ALIVE_S", "REPO_ROOT", "Settings", "get_settings"]
