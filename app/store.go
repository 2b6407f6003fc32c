package app

import (
	"context"

	"callconnect/ports"
)

// unitOfWork is a ports.Store as one use case sees it: its units of work
// hand the use case R, the small interface of the repository methods it
// uses, rather than every port (see package ports). The transactions are
// the store's own: Tx commits all that fn writes, or nothing.
type unitOfWork[R any] struct {
	store ports.Store
	as    func(ports.Repositories) R
}

// narrow returns store as a use case that uses R sees it. as is the
// identity, written out so that the compiler checks that
// ports.Repositories has R's methods:
//
//	narrow(store, func(r ports.Repositories) callReads { return r })
func narrow[R any](store ports.Store, as func(ports.Repositories) R) unitOfWork[R] {
	return unitOfWork[R]{store: store, as: as}
}

// Tx runs fn in one transaction, as ports.Store.Tx does.
func (u unitOfWork[R]) Tx(ctx context.Context, fn func(ctx context.Context, r R) error) error {
	return u.store.Tx(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, u.as(r)) })
}

// Read runs fn against one consistent, read-only snapshot, as
// ports.Store.Read does.
func (u unitOfWork[R]) Read(ctx context.Context, fn func(ctx context.Context, r R) error) error {
	return u.store.Read(ctx, func(ctx context.Context, r ports.Repositories) error { return fn(ctx, u.as(r)) })
}
