package console

// monitorRoutes registers the integration monitor's pages.
func (c *Console) monitorRoutes(env string) {}
