// Command velero-uploader is Velero's own file-system data path for the lab:
// the uploader node-agent links in (pkg/uploader/kopia over the unified
// repository of pkg/repository/udmrepo), driven by JSON lines on stdin, one
// answer per line on stdout.
//
// node-agent opens the repository for every PodVolumeBackup and pays kopia's
// key derivation each time; the lab backs up hundreds of volumes a run, so
// this process keeps each repository open until told to drop it (the lab
// drops a bucket's repositories when it corrupts, cuts or wipes that bucket,
// so a damaged repository fails as it would for a node-agent opening it).
// Everything else is Velero's code path: repository options as
// pkg/repository/provider/unified_repo.go builds them for an AWS BSL,
// connect-or-create as its PrepareRepo does, kopia.Backup with the parent and
// tags node-agent passes, kopia.Restore, and DeleteManifest for a forgotten
// snapshot. Snapshot times come from the caller (the lab's virtual clock)
// through the repository writer's Time(), which kopia's uploader reads.
package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	kopiarepo "github.com/kopia/kopia/repo"
	"github.com/kopia/kopia/repo/blob"
	"github.com/kopia/kopia/repo/format"
	"github.com/kopia/kopia/snapshot/snapshotfs"
	"github.com/sirupsen/logrus"

	"github.com/vmware-tanzu/velero/pkg/repository/udmrepo"
	"github.com/vmware-tanzu/velero/pkg/repository/udmrepo/kopialib/backend"
	"github.com/vmware-tanzu/velero/pkg/repository/udmrepo/service"
	"github.com/vmware-tanzu/velero/pkg/uploader"
	"github.com/vmware-tanzu/velero/pkg/uploader/kopia"
)

// repoSpec says where a repository is and how to open it: the BSL's S3
// settings, its credentials and the repository password.
type repoSpec struct {
	Endpoint  string `json:"endpoint"` // the BSL's s3Url
	Bucket    string `json:"bucket"`
	Prefix    string `json:"prefix"` // <bsl prefix>/kopia/<volume namespace>/
	Region    string `json:"region"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
	Password  string `json:"password"`
	Create    bool   `json:"create"` // initialise it when the bucket has none (the repository ensurer)
}

type request struct {
	ID         int               `json:"id"`
	Op         string            `json:"op"` // backup | restore | forget | drop
	Repo       *repoSpec         `json:"repo,omitempty"`
	Path       string            `json:"path,omitempty"`       // backup: the directory; restore: the target
	RealSource string            `json:"realSource,omitempty"` // backup: the source path recorded
	Parent     string            `json:"parent,omitempty"`     // backup: the parent snapshot node-agent found
	Tags       map[string]string `json:"tags,omitempty"`
	Time       string            `json:"time,omitempty"` // RFC 3339: the snapshot's start and end time
	Snapshot   string            `json:"snapshot,omitempty"`
	Bucket     string            `json:"bucket,omitempty"` // drop: the repositories in this bucket ("" = all)
	Wiped      bool              `json:"wiped,omitempty"`  // drop: their storage was emptied under them
}

type response struct {
	ID       int    `json:"id"`
	Error    string `json:"error,omitempty"`
	Snapshot string `json:"snapshot,omitempty"`
	Size     int64  `json:"size"`
	Files    int32  `json:"files,omitempty"`
	Dropped  int    `json:"dropped,omitempty"`
}

// openRepo is one repository kept open.
type openRepo struct {
	spec   repoSpec
	config string // kopia's config file for it
	repo   udmrepo.BackupRepo
}

type server struct {
	work  string // per-repository config files (and kopia's caches under HOME)
	svc   udmrepo.BackupRepoService
	log   logrus.FieldLogger
	repos map[string]*openRepo
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: velero-uploader WORK-DIR   (JSON requests on stdin, one per line)")
		os.Exit(2)
	}
	logger := logrus.New()
	logger.SetOutput(os.Stderr)
	logger.SetLevel(logrus.WarnLevel)
	s := &server{work: os.Args[1], svc: service.Create(logger), log: logger, repos: map[string]*openRepo{}}
	if err := os.MkdirAll(s.work, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, "velero-uploader:", err)
		os.Exit(1)
	}
	in := bufio.NewReader(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req request
			var resp response
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				resp.Error = "bad request: " + jerr.Error()
			} else {
				resp = s.serve(req)
			}
			resp.ID = req.ID
			resp.Error = oneLine(resp.Error)
			if werr := out.Encode(resp); werr != nil {
				break
			}
		}
		if err != nil { // EOF: the lab is gone
			break
		}
	}
	s.drop("", false)
}

func (s *server) serve(req request) response {
	ctx := context.Background()
	switch req.Op {
	case "drop":
		return response{Dropped: s.drop(req.Bucket, req.Wiped)}
	case "backup", "restore", "forget":
	default:
		return response{Error: fmt.Sprintf("unknown op %q", req.Op)}
	}
	if req.Repo == nil {
		return response{Error: req.Op + ": no repository given"}
	}
	r, err := s.open(ctx, *req.Repo)
	if err != nil {
		return response{Error: err.Error()}
	}
	switch req.Op {
	case "backup":
		return s.backup(ctx, r, req)
	case "restore":
		return s.restore(ctx, r, req)
	default:
		return s.forget(ctx, r, req)
	}
}

// identity of a repository: where its blobs are.
func (spec repoSpec) key() string {
	return strings.TrimRight(spec.Endpoint, "/") + "|" + spec.Bucket + "|" + strings.Trim(spec.Prefix, "/")
}

func (spec repoSpec) name() string {
	return fmt.Sprintf("s3:%s/%s/%s/", strings.TrimRight(spec.Endpoint, "/"), spec.Bucket, strings.Trim(spec.Prefix, "/"))
}

// options implements udmrepo's PasswordGetter and StoreOptionsGetter with
// what unified_repo.go's getStorageVariables and getStorageCredentials give
// for an AWS BSL with an s3Url.
type options struct{ spec repoSpec }

func (o options) GetPassword(any) (string, error) { return o.spec.Password, nil }

func (o options) GetStoreType(any) (string, error) { return udmrepo.StorageTypeS3, nil }

func (o options) GetStoreOptions(any) (map[string]string, error) {
	u, err := url.Parse(o.spec.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("error to parse s3Url %s: %v", o.spec.Endpoint, err)
	}
	return map[string]string{
		udmrepo.StoreOptionS3Endpoint:         strings.Trim(u.Host, "/"),
		udmrepo.StoreOptionS3DisableTLS:       strconv.FormatBool(u.Scheme == "http"),
		udmrepo.StoreOptionS3DisableTLSVerify: "",
		udmrepo.StoreOptionOssBucket:          strings.Trim(o.spec.Bucket, "/"),
		udmrepo.StoreOptionPrefix:             strings.Trim(o.spec.Prefix, "/") + "/",
		udmrepo.StoreOptionOssRegion:          strings.Trim(o.spec.Region, "/"),
		udmrepo.StoreOptionFsPath:             "",
		udmrepo.StoreOptionS3KeyID:            o.spec.AccessKey,
		udmrepo.StoreOptionS3SecretKey:        o.spec.SecretKey,
		udmrepo.StoreOptionS3Token:            "",
	}, nil
}

func (s *server) open(ctx context.Context, spec repoSpec) (*openRepo, error) {
	key := spec.key()
	if r, ok := s.repos[key]; ok {
		if r.spec.Password == spec.Password && r.spec.AccessKey == spec.AccessKey && r.spec.SecretKey == spec.SecretKey {
			return r, nil
		}
		s.close(key) // new credentials: open it as a node-agent would, with them
	}
	sum := sha256.Sum256([]byte(key))
	id := hex.EncodeToString(sum[:8])
	opt, err := udmrepo.NewRepoOptions(
		udmrepo.WithPassword(options{spec}, nil),
		udmrepo.WithConfigFile(s.work, id),
		udmrepo.WithGenOptions(map[string]string{
			udmrepo.GenOptionOwnerName:   udmrepo.GetRepoUser(),
			udmrepo.GenOptionOwnerDomain: udmrepo.GetRepoDomain(),
		}),
		udmrepo.WithStoreOptions(options{spec}, nil),
		udmrepo.WithDescription("repo connect"),
	)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %v", spec.name(), err)
	}
	// PrepareRepo: connect, and create only when the storage holds none.
	if err := s.svc.Init(ctx, *opt, false); err != nil {
		if !spec.Create || !isNotInitialized(err) {
			return nil, fmt.Errorf("error to connect to backup repo %s: %v", spec.name(), err)
		}
		if err := s.svc.Init(ctx, *opt, true); err != nil {
			return nil, fmt.Errorf("error to create backup repo %s: %v", spec.name(), err)
		}
	}
	opt.Description = "Initial kopia uploader provider"
	bk, err := s.svc.Open(ctx, *opt)
	if err != nil {
		os.Remove(opt.ConfigFilePath)
		return nil, fmt.Errorf("failed to find kopia repository %s: %v", spec.name(), err)
	}
	r := &openRepo{spec: spec, config: opt.ConfigFilePath, repo: bk}
	s.repos[key] = r
	return r, nil
}

func isNotInitialized(err error) bool {
	return errors.Is(err, kopiarepo.ErrRepositoryNotInitialized)
}

// close forgets a repository: closes it and removes its config file and
// kopia's caches of it, so the next use reads the bucket afresh.
func (s *server) close(key string) {
	r, ok := s.repos[key]
	if !ok {
		return
	}
	delete(s.repos, key)
	r.repo.Close(context.Background())
	if cache := cacheDir(r.config); cache != "" {
		os.RemoveAll(cache)
	}
	os.Remove(r.config)
}

// cacheDir reads kopia's cache directory from a repository config file.
func cacheDir(config string) string {
	data, err := os.ReadFile(config)
	if err != nil {
		return ""
	}
	var cfg struct {
		Caching struct {
			CacheDirectory string `json:"cacheDirectory"`
		} `json:"caching"`
	}
	if json.Unmarshal(data, &cfg) != nil || cfg.Caching.CacheDirectory == "" {
		return ""
	}
	if filepath.IsAbs(cfg.Caching.CacheDirectory) {
		return cfg.Caching.CacheDirectory
	}
	return filepath.Join(filepath.Dir(config), cfg.Caching.CacheDirectory)
}

func (s *server) drop(bucket string, wiped bool) int {
	dropped := 0
	for key, r := range s.repos {
		if bucket == "" || r.spec.Bucket == bucket {
			s.close(key)
			if wiped {
				sweepLogs(r.spec)
			}
			dropped++
		}
	}
	return dropped
}

// sweepLogs removes the log blobs closing a repository wrote after its
// storage was emptied (kopia writes its session's log when it closes;
// node-agent, which closes after each volume, never writes after a wipe).
func sweepLogs(spec repoSpec) {
	ctx := context.Background()
	opts, _ := options{spec}.GetStoreOptions(nil)
	var s3 backend.S3Backend
	if s3.Setup(ctx, opts) != nil {
		return
	}
	st, err := s3.Connect(ctx, false)
	if err != nil {
		return
	}
	defer st.Close(ctx)
	if _, err := st.GetMetadata(ctx, format.KopiaRepositoryBlobID); !errors.Is(err, blob.ErrBlobNotFound) {
		return // the repository is still there: its logs belong to it
	}
	var logs []blob.ID
	st.ListBlobs(ctx, "_log_", func(m blob.Metadata) error {
		logs = append(logs, m.BlobID)
		return nil
	})
	for _, id := range logs {
		st.DeleteBlob(ctx, id)
	}
}

// clockedWriter is the repository writer kopia's uploader sees, with the
// caller's time as the snapshot's start and end time.
type clockedWriter struct {
	kopiarepo.RepositoryWriter
	at time.Time
}

func (w clockedWriter) Time() time.Time { return w.at }

type noProgress struct{}

func (noProgress) UpdateProgress(*uploader.Progress) {}

func (s *server) backup(ctx context.Context, r *openRepo, req request) response {
	at := time.Now()
	if req.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, req.Time)
		if err != nil {
			return response{Error: "bad time " + req.Time}
		}
		at = t
	}
	writer := clockedWriter{kopia.NewShimRepo(r.repo), at}
	up := snapshotfs.NewUploader(writer)
	up.Progress = kopia.NewProgress(noProgress{}, time.Minute, s.log)
	up.FailFast = true
	info, _, err := kopia.Backup(ctx, up, writer, req.Path, req.RealSource, false, req.Parent,
		uploader.PersistentVolumeFilesystem, nil, req.Tags, s.log)
	if err != nil {
		return response{Error: fmt.Sprintf("Failed to run kopia backup (repository %s): %v", r.spec.name(), err)}
	}
	return response{Snapshot: info.ID, Size: info.Size}
}

func (s *server) restore(ctx context.Context, r *openRepo, req request) response {
	for attempt := 0; ; attempt++ {
		writer := kopia.NewShimRepo(r.repo)
		progress := kopia.NewProgress(noProgress{}, time.Minute, s.log)
		size, files, err := kopia.Restore(ctx, writer, progress, req.Snapshot, req.Path,
			uploader.PersistentVolumeFilesystem, nil, s.log, make(chan struct{}))
		if err == nil {
			return response{Size: size, Files: files}
		}
		// A snapshot another writer made after this repository was opened
		// (real Velero, another lab): read the repository's indexes again once.
		if attempt == 0 && strings.Contains(err.Error(), "not found") {
			if rerr := writer.Refresh(ctx); rerr == nil {
				continue
			}
		}
		return response{Error: fmt.Sprintf("Failed to run kopia restore (repository %s): %v", r.spec.name(), err)}
	}
}

func (s *server) forget(ctx context.Context, r *openRepo, req request) response {
	if err := r.repo.DeleteManifest(ctx, udmrepo.ID(req.Snapshot)); err != nil {
		return response{Error: fmt.Sprintf("error to delete snapshot %s (repository %s): %v", req.Snapshot, r.spec.name(), err)}
	}
	if err := r.repo.Flush(ctx); err != nil {
		return response{Error: fmt.Sprintf("error to flush repository %s: %v", r.spec.name(), err)}
	}
	return response{}
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}
