import { EmptyState, PageHeader } from '../components/ui';
import { useDocumentTitle } from '../lib/hooks';
import { Link } from '../lib/router';

export default function NotFound() {
  useDocumentTitle('Not found');
  return (
    <>
      <PageHeader title="Page not found" />
      <EmptyState title="There is nothing at this address" action={<Link to="/" className="btn btn-primary">Dashboard</Link>}>
        The link may be old, or the item was deleted.
      </EmptyState>
    </>
  );
}
