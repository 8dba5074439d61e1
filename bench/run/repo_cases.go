package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/hotpipe/hotpipe/backup"
	"github.com/hotpipe/hotpipe/engine"
	"github.com/hotpipe/hotpipe/internal/s3test"
	"github.com/hotpipe/hotpipe/repo"
	"github.com/hotpipe/hotpipe/txframe"
)

// The repository cases run against one versitygw on 127.0.0.1, over a
// directory in the bench's scratch directory, with one bucket.
const (
	repoBucket = "bench"
	// archiveObjectSize is the archive's --object-size in the archive case.
	archiveObjectSize = "64MiB"
	// listObjects is the number of objects repo list lists.
	listObjects = 10000
	// lagRate is the steady commit rate of the archive lag case.
	lagRate = 5000
	// listPoll is how often the bench lists a prefix to see when an
	// object appears.
	listPoll = 10 * time.Millisecond
)

// repoBench is the bench with the S3 server the repository cases share.
type repoBench struct {
	*bench
	mc       *minio.Client
	backedUp map[string]bool // databases hot-backup --repo wrote into s3://bench/backups
}

func s3URL(prefix string) string { return "s3://" + repoBucket + "/" + prefix }

// repoCase measures the backup repository: archive into S3, restore from
// S3, archive lag, repo list of many objects, and peak RSS. The server is
// stopped when it returns, on error too.
func (b *bench) repoCase(sz sizes) ([]row, error) {
	dir := filepath.Join(b.dir, "s3")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	srv, err := s3test.Run(dir)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	mc, err := srv.NewClient()
	if err != nil {
		return nil, err
	}
	if err := mc.MakeBucket(context.Background(), repoBucket, minio.MakeBucketOptions{Region: s3test.Region}); err != nil {
		return nil, fmt.Errorf("make bucket: %w", err)
	}
	// hotpipe finds the server and its credentials in the environment
	// of the commands the cases run.
	for k, v := range map[string]string{"HOTPIPE_S3_ENDPOINT": srv.Endpoint, "HOTPIPE_S3_REGION": s3test.Region,
		"AWS_ACCESS_KEY_ID": s3test.AccessKey, "AWS_SECRET_ACCESS_KEY": s3test.SecretKey} {
		os.Setenv(k, v)
	}
	os.Unsetenv("AWS_SESSION_TOKEN")
	r := &repoBench{bench: b, mc: mc, backedUp: map[string]bool{}}
	// The RSS rows come first, while this process is small (see all);
	// they leave the objects and backups the other cases use.
	rss, err := r.rssRows(sz)
	if err != nil {
		return nil, err
	}
	var rows []row
	for _, c := range []func(sizes) ([]row, error){r.archiveRows, r.restoreRows, r.lagRows, r.listRows} {
		rs, err := c(sz)
		if err != nil {
			return nil, err
		}
		rows = append(rows, rs...)
	}
	return append(rows, rss...), nil
}

// sizedDB names a database of mib MiB of 64 KiB transactions, made if
// rssCase has not made it.
func (r *repoBench) sizedDB(sz sizes, mib int) (string, error) {
	name := fmt.Sprintf("rss%d", mib)
	if mib == sz.bigMiB {
		name = "big"
	}
	if _, err := os.Stat(filepath.Join(r.data, name)); err == nil {
		return name, nil
	}
	return name, r.makeDB(name, mib*16, 64<<10, 16)
}

// lastLSN is a database's last durable LSN.
func (r *repoBench) lastLSN(name string) (uint64, error) {
	db, err := engine.Open(r.data, name, engine.Options{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	lsn, _, err := db.State()
	return lsn, err
}

// backupToS3 writes a level 0 backup of name into s3://bench/backups once,
// returning hot-backup's peak RSS.
func (r *repoBench) backupToS3(name string) (float64, error) {
	rss, err := r.peakRSS("hot-backup", name, "--repo", s3URL("backups"))
	r.backedUp[name] = err == nil
	return rss, err
}

// listed is an object of a listing, its name parsed.
type listed struct {
	repo.Name
	key  string
	size int64
}

// list lists the repository objects under prefix.
func (r *repoBench) list(ctx context.Context, prefix string) ([]listed, error) {
	var objs []listed
	for o := range r.mc.ListObjects(ctx, repoBucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		n, err := repo.ParseName(strings.TrimPrefix(o.Key, prefix+"/"))
		if err != nil {
			return nil, err
		}
		objs = append(objs, listed{Name: n, key: o.Key, size: o.Size})
	}
	return objs, nil
}

// removePrefix deletes every object under prefix.
func (r *repoBench) removePrefix(prefix string) error {
	ctx := context.Background()
	for o := range r.mc.ListObjects(ctx, repoBucket, minio.ListObjectsOptions{Prefix: prefix + "/", Recursive: true}) {
		if o.Err != nil {
			return o.Err
		}
		if err := r.mc.RemoveObject(ctx, repoBucket, o.Key, minio.RemoveObjectOptions{}); err != nil {
			return err
		}
	}
	return nil
}

// archiveProc is a running `hotpipe archive`.
type archiveProc struct {
	cmd  *exec.Cmd
	out  bytes.Buffer // read only once the process has exited
	done chan struct{}
	err  error // cmd.Wait's, once done is closed
}

// startArchive starts `hotpipe archive db --repo s3://bench/prefix args...`.
func (r *repoBench) startArchive(db, prefix string, args ...string) (*archiveProc, error) {
	a := &archiveProc{done: make(chan struct{})}
	argv := append([]string{"--data-dir", r.data, "-q", "archive", db, "--repo", s3URL(prefix)}, args...)
	a.cmd = exec.Command(r.bin, argv...)
	a.cmd.Stdout, a.cmd.Stderr = &a.out, &a.out
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { a.err = a.cmd.Wait(); close(a.done) }()
	return a, nil
}

// exited returns an error if the archive has exited: it should not have.
func (a *archiveProc) exited() error {
	select {
	case <-a.done:
		return fmt.Errorf("archive exited early: %v\n%s", a.err, a.out.String())
	default:
		return nil
	}
}

// stop ends the archive with SIGTERM, as an operator would, and expects
// exit 0.
func (a *archiveProc) stop() error {
	if err := a.exited(); err != nil {
		return err
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-a.done:
	case <-time.After(time.Minute):
		a.kill()
		return fmt.Errorf("archive did not exit within a minute of SIGTERM")
	}
	if a.err != nil {
		return fmt.Errorf("archive after SIGTERM: %v\n%s", a.err, a.out.String())
	}
	return nil
}

// kill ends the archive at once if it still runs: for error paths.
func (a *archiveProc) kill() {
	select {
	case <-a.done:
	default:
		_ = a.cmd.Process.Kill()
		<-a.done
	}
}

// waitArchived polls the listing of prefix every listPoll until an object
// ends at last, and returns that listing.
func (r *repoBench) waitArchived(a *archiveProc, prefix string, last uint64) ([]listed, error) {
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		objs, err := r.list(context.Background(), prefix)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			if o.Last == last {
				return objs, nil
			}
		}
		if err := a.exited(); err != nil {
			return nil, err
		}
		time.Sleep(listPoll)
	}
	return nil, fmt.Errorf("%s: LSN %d not archived within 10 minutes", s3URL(prefix), last)
}

// archiveOnce archives db into the empty prefix and returns the time from
// starting hotpipe until the listing holds every LSN, and the objects.
func (r *repoBench) archiveOnce(db, prefix string, last uint64) (time.Duration, []listed, error) {
	start := time.Now()
	a, err := r.startArchive(db, prefix, "--max-delay", "1s", "--object-size", archiveObjectSize)
	if err != nil {
		return 0, nil, err
	}
	defer a.kill()
	objs, err := r.waitArchived(a, prefix, last)
	d := time.Since(start)
	if err != nil {
		return 0, nil, err
	}
	return d, objs, a.stop()
}

// putObjects uploads files with minio-go, as they are, one after another,
// under prefix.
func (r *repoBench) putObjects(files []string, prefix string, opts minio.PutObjectOptions) (time.Duration, error) {
	start := time.Now()
	for k, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		fi, err := f.Stat()
		if err == nil {
			_, err = r.mc.PutObject(context.Background(), repoBucket, fmt.Sprintf("%s/%d", prefix, k), f, fi.Size(), opts)
		}
		f.Close()
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// download copies objects into files in the scratch directory.
func (r *repoBench) download(objs []listed, stem string) ([]string, error) {
	var files []string
	for k, o := range objs {
		path := filepath.Join(r.dir, fmt.Sprintf("%s-%d", stem, k))
		if err := r.mc.FGetObject(context.Background(), repoBucket, o.key, path, minio.GetObjectOptions{}); err != nil {
			return nil, err
		}
		files = append(files, path)
	}
	return files, nil
}

// archiveRows times archive of a database into an empty S3 prefix until
// the listing holds every LSN, beside minio-go uploading the objects it
// wrote (downloaded once) under other names.
func (r *repoBench) archiveRows(sz sizes) ([]row, error) {
	db, err := r.sizedDB(sz, sz.archiveMiB)
	if err != nil {
		return nil, err
	}
	last, err := r.lastLSN(db)
	if err != nil {
		return nil, err
	}
	var m, ref, seq sample
	var objs []listed
	var files []string
	var n int64
	for i := 0; i < sz.reps; i++ {
		var d time.Duration
		d, objs, err = r.archiveOnce(db, fmt.Sprintf("arch%d", i), last)
		if err != nil {
			return nil, err
		}
		if files == nil {
			if files, err = r.download(objs, "archived"); err != nil {
				return nil, err
			}
			for _, o := range objs {
				n += o.size
			}
		}
		// The client library's own upload: its default part size (16 MiB
		// here) and 4 parts at a time; then one part at a time, as
		// hotpipe sends them.
		dr, err := r.putObjects(files, fmt.Sprintf("put%d", i), minio.PutObjectOptions{})
		if err != nil {
			return nil, err
		}
		ds, err := r.putObjects(files, fmt.Sprintf("seq%d", i), minio.PutObjectOptions{NumThreads: 1, PartSize: repo.DefaultPartSize})
		if err != nil {
			return nil, err
		}
		m, ref, seq = append(m, mbps(n, d)), append(ref, mbps(n, dr)), append(seq, mbps(n, ds))
		for _, p := range []string{"arch", "put", "seq"} {
			if err := r.removePrefix(fmt.Sprintf("%s%d", p, i)); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range files {
		os.Remove(f)
	}
	name := fmt.Sprintf("archive of a %d MiB database into S3 (versitygw, loopback), --object-size %s, until listed whole "+
		"(it wrote %d object(s): %s)", sz.archiveMiB, archiveObjectSize, len(objs), objSizes(objs))
	return []row{
		ratioRow(name+", vs minio-go PutObject of the same objects (its defaults: 4 parts at a time)", "≥ 0.8×", m, ref),
		ratioRow(name+", vs minio-go PutObject of them one 16 MiB part at a time, as hotpipe uploads", "—", m, seq),
	}, nil
}

func objSizes(objs []listed) string {
	var s []string
	for _, o := range objs {
		s = append(s, fmt.Sprintf("%.0f MiB", float64(o.size)/(1<<20)))
	}
	return strings.Join(s, " + ")
}

// restoreRows times hot-restore of the big database from its level 0
// backup in S3 beside hot-restore from the backup file.
func (r *repoBench) restoreRows(sz sizes) ([]row, error) {
	if !r.backedUp["big"] {
		if _, err := r.backupToS3("big"); err != nil {
			return nil, err
		}
	}
	file := filepath.Join(r.dir, "big.backup")
	if _, err := os.Stat(file); err != nil {
		if _, err := r.sh(`"$HP" hot-backup big -q -o "$D/big.backup"`); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	mine := `rm -rf "$HOTPIPE_DATA_DIR/rr"; "$HP" hot-restore rr -q --repo ` + s3URL("backups") + ` --source big`
	ref := `rm -rf "$HOTPIPE_DATA_DIR/rf"; "$HP" hot-restore rf -q -i "$D/big.backup"`
	m, rf, err := r.pair(sz.reps, mine, ref, fi.Size())
	if err != nil {
		return nil, err
	}
	os.RemoveAll(filepath.Join(r.data, "rr"))
	os.RemoveAll(filepath.Join(r.data, "rf"))
	name := fmt.Sprintf("hot-restore of the %d MiB database from its backup in S3 (hot-backup --repo), vs from the backup file", sz.bigMiB)
	return []row{ratioRow(name, "≥ 0.7×", m, rf)}, nil
}

// lagRun is what one run of the lag case saw.
type lagRun struct {
	lags      sample  // seconds, one per object
	listTimes sample  // milliseconds, one per listing
	cpu       float64 // the archive's CPU time over its wall time
}

// lagRows measures how long after its first frame's commit each object
// of an archive following a steady load appears in the listing.
func (r *repoBench) lagRows(sz sizes) ([]row, error) {
	var med, worst, cpu sample
	var objects int
	var listTimes sample
	for i := 0; i < sz.reps; i++ {
		run, err := r.lagOnce(fmt.Sprintf("lag%d", i), sz.lagSeconds)
		if err != nil {
			return nil, err
		}
		c := append(sample(nil), run.lags...)
		objects += len(c)
		med, worst, cpu = append(med, c.median()), append(worst, c.max()), append(cpu, run.cpu*100)
		listTimes = append(listTimes, run.listTimes...)
	}
	// An object is seen when the listing that shows it returns: at most
	// listPoll and one listing after it became visible.
	name := fmt.Sprintf("archive lag into S3 at a steady %s tx/s for %d s, --max-delay 1s: object listed − its first frame's commit "+
		"(%d objects in %d runs; resolution: the prefix listed every %v, a listing taking %.0f ms [%.0f, %.0f])", thousands(lagRate),
		sz.lagSeconds, objects, sz.reps, listPoll, listTimes.median(), listTimes.min(), listTimes.max())
	return []row{
		{name: name + ", median of each run", mine: med.spread("%.3f s"), ref: "—", ratio: "—", target: "≤ 1.1 s"},
		{name: name + ", worst of each run", mine: worst.spread("%.3f s"), ref: "—", ratio: "—", target: "≤ 1.5 s"},
		{name: "archive CPU while following that load (CPU time / wall time)", mine: cpu.spread("%.0f%% of a core"), ref: "—", ratio: "—", target: "(none)"},
	}, nil
}

func (s sample) max() float64 {
	m := s[0]
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

func (s sample) min() float64 {
	m := s[0]
	for _, v := range s {
		m = min(m, v)
	}
	return m
}

// thousands formats n with commas: 10,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// lagOnce runs archive into an empty prefix while load commits lagRate
// tx/s into a new database for seconds, and lists the prefix every
// listPoll meanwhile.
func (r *repoBench) lagOnce(db string, seconds int) (lagRun, error) {
	var run lagRun
	if err := r.hp("db", "create", db); err != nil {
		return run, err
	}
	start := time.Now()
	a, err := r.startArchive(db, db, "--max-delay", "1s")
	if err != nil {
		return run, err
	}
	defer a.kill()
	time.Sleep(500 * time.Millisecond) // the archive lists the empty prefix and waits
	w := r.watch(db)
	defer w.stop()
	if err := r.hp("load", db, "--txs", fmt.Sprint(lagRate*seconds), "--rate", fmt.Sprint(lagRate)); err != nil {
		return run, err
	}
	last, err := r.lastLSN(db)
	if err != nil {
		return run, err
	}
	if err := w.until(last, a); err != nil {
		return run, err
	}
	seen, listTimes := w.stop()
	if err := a.stop(); err != nil {
		return run, err
	}
	ps := a.cmd.ProcessState
	run.cpu = (ps.UserTime() + ps.SystemTime()).Seconds() / time.Since(start).Seconds()
	run.listTimes = listTimes
	for key, t := range seen {
		n, err := repo.ParseName(strings.TrimPrefix(key, db+"/"))
		if err != nil {
			return run, err
		}
		run.lags = append(run.lags, t.Sub(n.FirstTime).Seconds())
	}
	return run, nil
}

// watcher lists a prefix every listPoll and notes when each object was
// first seen: when the listing that showed it returned.
type watcher struct {
	r         *repoBench
	prefix    string
	mu        sync.Mutex
	seen      map[string]time.Time
	last      uint64 // the highest LSN listed
	err       error
	listTimes sample // milliseconds
	quit      chan struct{}
	done      chan struct{}
	once      sync.Once
}

func (r *repoBench) watch(prefix string) *watcher {
	w := &watcher{r: r, prefix: prefix, seen: map[string]time.Time{}, quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

func (w *watcher) run() {
	defer close(w.done)
	t := time.NewTicker(listPoll)
	defer t.Stop()
	for {
		asked := time.Now()
		objs, err := w.r.list(context.Background(), w.prefix)
		now := time.Now()
		w.mu.Lock()
		w.listTimes = append(w.listTimes, now.Sub(asked).Seconds()*1000)
		w.err = err
		for _, o := range objs {
			if _, ok := w.seen[o.key]; !ok {
				w.seen[o.key] = now
			}
			w.last = max(w.last, o.Last)
		}
		w.mu.Unlock()
		if err != nil {
			return
		}
		select {
		case <-w.quit:
			return
		case <-t.C:
		}
	}
}

// until waits for an object ending at last, the archive running.
func (w *watcher) until(last uint64, a *archiveProc) error {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		got, err := w.last, w.err
		w.mu.Unlock()
		if err != nil {
			return err
		}
		if got >= last {
			return nil
		}
		if err := a.exited(); err != nil {
			return err
		}
		time.Sleep(listPoll)
	}
	return fmt.Errorf("%s: LSN %d not listed within a minute of the load's end", s3URL(w.prefix), last)
}

// stop ends the watch and returns what it saw.
func (w *watcher) stop() (map[string]time.Time, sample) {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return w.seen, w.listTimes
}

// makeObjects writes n archive objects of one transaction each, frames
// 1..n of a new database, as the archive writes them (backup.Backup of
// the object's LSN range into a stream named by repo.Name), into the
// directory repositories $D/listN for N = 1,000 and n (the first N
// objects), and uploads each to s3://bench/listN under the same names.
func (r *repoBench) makeObjects(n int) error {
	if err := r.makeDB("objs", n, 100, 64); err != nil {
		return err
	}
	names, bodies, err := r.objects("objs", n)
	if err != nil {
		return err
	}
	for _, count := range []int{1000, n} {
		prefix := fmt.Sprintf("list%d", count)
		for k := 0; k < count; k++ {
			path := filepath.Join(r.dir, prefix, filepath.FromSlash(names[k]))
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return err
			}
			if err := os.WriteFile(path, bodies[k], 0o600); err != nil {
				return err
			}
		}
		if err := r.upload(prefix, names[:count], bodies); err != nil {
			return err
		}
	}
	return nil
}

// objects makes the names and bodies of db's frames 1..n as one object
// each.
func (r *repoBench) objects(name string, n int) ([]string, [][]byte, error) {
	db, err := engine.Open(r.data, name, engine.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	meta, err := db.Meta()
	if err != nil {
		return nil, nil, err
	}
	times, err := commitTimes(db, n)
	if err != nil {
		return nil, nil, err
	}
	names, bodies := make([]string, n), make([][]byte, n)
	for k := range n {
		lsn := uint64(k + 1)
		var buf bytes.Buffer
		if _, err := backup.Backup(context.Background(), db, &buf, backup.Options{Start: lsn, End: lsn}); err != nil {
			return nil, nil, err
		}
		names[k] = repo.Name{DB: name, Origin: meta.Origin, First: lsn, Last: lsn, Kind: repo.Archive,
			FirstTime: times[k], LastTime: times[k]}.String()
		bodies[k] = buf.Bytes()
	}
	return names, bodies, nil
}

// commitTimes reads the commit times of db's frames 1..n.
func commitTimes(db *engine.DB, n int) ([]time.Time, error) {
	fr, err := db.Frames(1, uint64(n))
	if err != nil {
		return nil, err
	}
	defer fr.Close()
	var times []time.Time
	for {
		block, err := fr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) && len(times) == n {
				return times, nil
			}
			return nil, fmt.Errorf("reading commit times: %d of %d: %w", len(times), n, err)
		}
		for f := range txframe.Frames(block) {
			_, ns := txframe.Fields(f)
			times = append(times, time.Unix(0, ns).UTC())
		}
	}
}

// upload puts the objects under prefix, 16 at a time.
func (r *repoBench) upload(prefix string, names []string, bodies [][]byte) error {
	work := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			for k := range work {
				if err == nil {
					_, err = r.mc.PutObject(context.Background(), repoBucket, prefix+"/"+names[k],
						bytes.NewReader(bodies[k]), int64(len(bodies[k])), minio.PutObjectOptions{})
				}
			}
			errs <- err
		}()
	}
	for k := range names {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// listRows times repo list of listObjects objects in S3, beside minio-go
// listing the same prefix in this process, and in a directory, beside
// find printing each file's size.
func (r *repoBench) listRows(sz sizes) ([]row, error) {
	prefix := fmt.Sprintf("list%d", listObjects)
	var s3, bare, dir, find sample
	for i := 0; i < sz.reps; i++ {
		d, err := r.sh(`"$HP" repo list --repo ` + s3URL(prefix) + ` > /dev/null`)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		objs, err := r.list(context.Background(), prefix)
		if err != nil {
			return nil, err
		}
		if len(objs) != listObjects {
			return nil, fmt.Errorf("%s lists %d objects, not %d", s3URL(prefix), len(objs), listObjects)
		}
		db := time.Since(start)
		dd, err := r.sh(`"$HP" repo list --repo "$D/` + prefix + `" > /dev/null`)
		if err != nil {
			return nil, err
		}
		// find stats each file, as repo list does for the size.
		df, err := r.sh(`find "$D/` + prefix + `" -type f -printf '%s %p\n' > /dev/null`)
		if err != nil {
			return nil, err
		}
		s3, bare = append(s3, d.Seconds()*1000), append(bare, db.Seconds()*1000)
		dir, find = append(dir, dd.Seconds()*1000), append(find, df.Seconds()*1000)
	}
	times := func(a, b sample) string { return fmt.Sprintf("%.2f× the time", a.median()/b.median()) }
	return []row{
		{name: fmt.Sprintf("repo list of %s objects in S3, vs a bare minio-go ListObjectsV2 of the prefix (in process)", thousands(listObjects)),
			mine: s3.spread("%.0f ms"), ref: bare.spread("%.0f ms"), ratio: times(s3, bare), target: "≤ 1 s"},
		{name: fmt.Sprintf("repo list of %s objects in a directory, vs find printing each file's size", thousands(listObjects)),
			mine: dir.spread("%.0f ms"), ref: find.spread("%.0f ms"), ratio: times(dir, find), target: "≤ 1 s"},
	}, nil
}

// rssRows measures the peak RSS of repo list at 1,000 and listObjects
// objects, and of hot-backup --repo and hot-restore --repo through S3 at
// the RSS sizes.
func (r *repoBench) rssRows(sz sizes) ([]row, error) {
	if err := r.makeObjects(listObjects); err != nil {
		return nil, err
	}
	var s3, dir []string
	for _, n := range []int{1000, listObjects} {
		prefix := fmt.Sprintf("list%d", n)
		a, err := r.peakRSS("repo", "list", "--repo", s3URL(prefix))
		if err != nil {
			return nil, err
		}
		b, err := r.peakRSS("repo", "list", "--repo", filepath.Join(r.dir, prefix))
		if err != nil {
			return nil, err
		}
		s3, dir = append(s3, fmt.Sprintf("%.0f MiB", a)), append(dir, fmt.Sprintf("%.0f MiB", b))
	}
	rows := []row{{name: fmt.Sprintf("peak RSS of repo list, 1,000 / %s objects: in S3; in a directory", thousands(listObjects)),
		mine: strings.Join(s3, " / ") + "; " + strings.Join(dir, " / "), ref: "—", ratio: "—", target: "flat in repository size"}}
	for _, mib := range sz.rssMiB {
		name, err := r.sizedDB(sz, mib)
		if err != nil {
			return nil, err
		}
		back, err := r.backupToS3(name)
		if err != nil {
			return nil, err
		}
		rest, err := r.peakRSS("hot-restore", name+"s3", "--repo", s3URL("backups"), "--source", name)
		if err != nil {
			return nil, err
		}
		os.RemoveAll(filepath.Join(r.data, name+"s3"))
		rows = append(rows, row{name: fmt.Sprintf("peak RSS, %d MiB database: hot-backup --repo / hot-restore --repo, in S3", mib),
			mine: fmt.Sprintf("%.0f MiB / %.0f MiB", back, rest), ref: "—", ratio: "—", target: "flat in database size"})
	}
	return rows, nil
}
