package identity

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
)

// The device-login page (the verification_uri of device-code sign-in): a user enters
// the code their device shows, with their user name and password.

var deviceLoginTemplate = template.Must(template.New("devicelogin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Cerulean sign-in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 28em; margin: 3em auto">
<h1>Sign in to Cerulean</h1>
{{if .Done}}<p>You have signed in. You may close this window and return to your device.</p>
{{else}}{{if .Error}}<p role="alert" style="color: #a00">{{.Error}}</p>{{end}}
<form method="post" action="/devicelogin">
<p><label>Code<br><input name="otc" value="{{.Code}}" autocomplete="off" required autofocus></label></p>
<p><label>User name<br><input name="username" type="email" autocomplete="username" required></label></p>
<p><label>Password<br><input name="password" type="password" autocomplete="current-password" required></label></p>
<p><button type="submit">Sign in</button></p>
</form>{{end}}
</body></html>
`))

type deviceLoginView struct {
	Code  string
	Error string
	Done  bool
}

// deviceLoginPage is GET /devicelogin.
func (s *Service) deviceLoginPage(w http.ResponseWriter, r *http.Request) error {
	return renderDeviceLogin(w, http.StatusOK, deviceLoginView{Code: r.URL.Query().Get("otc")})
}

// deviceLogin is POST /devicelogin: approve the code as the user.
func (s *Service) deviceLogin(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return fail(ErrInvalidRequest, "The form could not be read.")
	}
	if err := s.ApproveDeviceCode(r.Context(), r.PostForm.Get("otc"), r.PostForm.Get("username"), r.PostForm.Get("password")); err != nil {
		return err
	}
	return renderDeviceLogin(w, http.StatusOK, deviceLoginView{Done: true})
}

// writeDeviceLogin shows the page again with what went wrong.
func writeDeviceLogin(s *Service, w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	view, status := deviceLoginView{Code: r.PostFormValue("otc")}, http.StatusBadRequest
	if errors.As(err, &e) {
		view.Error = e.Description
	} else {
		s.log.ErrorContext(r.Context(), "identity request failed", slog.String("route", "devicelogin"), slog.Any("err", err))
		view.Error, status = "Something went wrong. Try again.", http.StatusInternalServerError
	}
	_ = renderDeviceLogin(w, status, view)
}

func renderDeviceLogin(w http.ResponseWriter, status int, v deviceLoginView) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
	w.WriteHeader(status)
	return deviceLoginTemplate.Execute(w, v)
}
