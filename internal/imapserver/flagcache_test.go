package imapserver

import "testing"

// TestWithFlagCache runs the transcript tests that involve flags, SEARCH,
// STORE, expunges and other sessions again with the flag cache filled by
// every FETCH of flags and every flag-only SEARCH (flagcache.go; it is
// otherwise used only from minFlagCache messages on).
func TestWithFlagCache(t *testing.T) {
	old := minFlagCache
	minFlagCache = 1
	defer func() { minFlagCache = old }()
	for name, fn := range map[string]func(*testing.T){
		"SearchKeys":                        TestSearchKeys,
		"SearchSequenceNumbersAfterExpunge": TestSearchSequenceNumbersAfterExpunge,
		"ESearch":                           TestESearch,
		"SearchRev2":                        TestSearchRev2,
		"SearchTwoSessions":                 TestSearchTwoSessions,
		"CondStoreStore":                    TestCondStoreStore,
		"CondStoreFetchChangedSince":        TestCondStoreFetchChangedSince,
		"CondStoreSearch":                   TestCondStoreSearch,
		"CondStoreCopyExpunge":              TestCondStoreCopyExpunge,
		"CondStoreIdle":                     TestCondStoreIdle,
		"QResyncVanished":                   TestQResyncVanished,
		"QResyncReconnect":                  TestQResyncReconnect,
		"FetchItems":                        TestFetchItems,
		"FetchSetsSeen":                     TestFetchSetsSeen,
		"FetchExpungedByOther":              TestFetchExpungedByOther,
	} {
		t.Run(name, fn)
	}
}
