from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequired

API_PREFIX = "/api/"


class LoginRequiredMiddleware(DjangoLoginRequired):
    """Pages redirect anonymous visitors to the login page.

    API routes are left to the API's own authentication, which answers 401 with JSON instead
    of a redirect (see mlstudio/api.py); views opt out only with @login_not_required.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIX):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
