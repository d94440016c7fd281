package main

import (
	"context"
	"fmt"

	"github.com/killswitch/killswitch/actions/awsapi"
)

// awsProvider builds the real AWS provider: the SDK's default credential
// chain, the responder role assumed in every account, and the accounts of
// --all (configured, or discovered with ListAccounts when organization: true).
func awsProvider(ctx context.Context, cfg *Config) (awsapi.Provider, []string, error) {
	f, err := awsapi.NewFactory(ctx, awsapi.Config{
		Region:            cfg.AWS.Region,
		EndpointURL:       cfg.AWS.EndpointURL,
		RoleName:          cfg.AWS.RoleName,
		ExternalID:        cfg.AWS.ExternalID,
		ManagementAccount: cfg.AWS.ManagementAccount,
		CallTimeout:       cfg.AWS.CallTimeout,
	})
	if err != nil {
		return nil, nil, &configError{fmt.Errorf("aws: %w", err)}
	}
	accounts := append([]string(nil), cfg.AWS.Accounts...)
	if cfg.AWS.Organization {
		found, err := f.DiscoverAccounts(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("discover the organization's accounts: %w", err)
		}
		accounts = found
	} else if cfg.AWS.ManagementAccount != "" {
		seen := false
		for _, a := range accounts {
			seen = seen || a == cfg.AWS.ManagementAccount
		}
		if !seen {
			accounts = append([]string{cfg.AWS.ManagementAccount}, accounts...)
		}
	}
	return f, accounts, nil
}
