package httpapi

import "github.com/pvetenant/backend/shared/apperr"

var apperrPublic = apperr.Public
